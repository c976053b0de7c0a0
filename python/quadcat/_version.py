"""The package's version: the VERSION file at the repository root, the one place quadcat's version is
written (the binary compiles the same file in, so ``quadcat --version`` and every subset's recorded
``tool_version`` agree with ``quadcat.__version__``).

An installed package carries it in ``_version_build.py``, which ``setup.py`` writes into the build; a
source checkout (``PYTHONPATH=python``, or an editable install) reads VERSION itself.
"""
from pathlib import Path

_CHECKOUT_VERSION = Path(__file__).resolve().parent.parent.parent / "VERSION"


def version() -> str:
    try:
        from ._version_build import VERSION  # written by setup.py into an installed package
        return VERSION
    except ImportError:
        pass
    try:
        return _CHECKOUT_VERSION.read_text().strip()
    except OSError:
        return "0+unknown"
