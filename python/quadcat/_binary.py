"""Which `quadcat` executable the package runs.

The package is a client of the command-line tool, so everything starts with finding it. In order:

1. ``QUADCAT_BIN``: an explicit path wins (and must be an executable file).
2. The binary bundled in the installed package (``quadcat/_bin/quadcat``): the wheel ``make wheel``
   builds carries one that needs no Swift toolchain and no system libraries beyond glibc's (its C
   libraries are in ``quadcat.libs/``), the way Rust CLIs ship in wheels; ``pip install ./python``
   compiles and bundles one when the Swift toolchain is present.
3. The release build of the source checkout the package is imported from (``.build/release/quadcat``
   beside ``python/``), for an editable install or a ``PYTHONPATH=python`` session.
4. ``quadcat`` on ``PATH`` (``make install`` puts it in /usr/local/bin).
"""
import os
import shutil
from pathlib import Path
from typing import Optional, Tuple

from .errors import QuadcatError

ENVIRONMENT_VARIABLE = "QUADCAT_BIN"
_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_bin" / "quadcat"
_SOURCE_BUILD = _PACKAGE.parent.parent / ".build" / "release" / "quadcat"


def binary() -> str:
    """The absolute path of the ``quadcat`` executable this package runs.

    See :func:`binary_origin` for where it was found. Raises :class:`QuadcatError` (status 127)
    saying what to do when there is none.
    """
    return _locate()[0]


def binary_origin() -> str:
    """Where :func:`binary` found the executable: ``"QUADCAT_BIN"``, ``"bundled"`` (installed with the
    package), ``"source build"`` (the checkout's ``.build/release``) or ``"PATH"``."""
    return _locate()[1]


def _locate() -> Tuple[str, str]:
    explicit = os.environ.get(ENVIRONMENT_VARIABLE)
    if explicit:
        path = Path(explicit).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise QuadcatError(
                f"{ENVIRONMENT_VARIABLE}={explicit} is not an executable file. "
                f"Point it at a quadcat binary (e.g. .build/release/quadcat), or unset it", status=127)
        return str(path.resolve()), ENVIRONMENT_VARIABLE
    if _is_executable(_BUNDLED):
        return str(_BUNDLED), "bundled"
    if _is_executable(_SOURCE_BUILD):
        return str(_SOURCE_BUILD), "source build"
    found = _on_path()
    if found:
        return found, "PATH"
    raise QuadcatError(
        "no quadcat binary: none is bundled with this package (it was installed without the Swift "
        "toolchain, or with QUADCAT_BUNDLE_BINARY=none), QUADCAT_BIN is not set and quadcat is not on "
        "PATH. Either run `make install` in "
        "a quadcat checkout (puts quadcat in /usr/local/bin), reinstall with the Swift toolchain "
        "present (`pip install ./python` compiles and bundles it), or set QUADCAT_BIN to a built "
        "binary", status=127)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _on_path() -> Optional[str]:
    """``quadcat`` on PATH, skipping this package's own console script (which would only call back
    here and loop when no real binary exists)."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("quadcat", path=directory) if directory else None
        if candidate and not _is_wrapper_script(candidate):
            return str(Path(candidate).resolve())
    return None


def _is_wrapper_script(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            head = file.read(2048)
    except OSError:
        return False
    return head.startswith(b"#!") and b"quadcat.__main__" in head
