"""Builds the quadcat package and bundles the quadcat binary in it (``quadcat/_bin/quadcat``), the way
Rust command-line tools ship inside wheels (maturin's ``bindings = "bin"``).

Which binary is bundled (environment variable ``QUADCAT_BUNDLE_BINARY``):
- unset: ``swift build -c release --product quadcat`` in the repository around this directory, when
  the Swift toolchain is on PATH; nothing (with a note) when it is not, or when the Swift sources are
  not beside this directory (an sdist). A failed Swift build fails the install, with its output.
- a path: that already built binary (``make test`` passes ``.build/release/quadcat``, so pip does not
  compile Swift a second time).
- ``none``: nothing; the package then runs ``QUADCAT_BIN`` or ``quadcat`` on PATH.
A wheel with a binary is tagged for this platform; one without is pure Python. ``make wheel`` builds
the binary with the Swift standard library linked statically and hands this wheel to
``auditwheel repair``, which bundles the C libraries it links and tags it manylinux (see
scripts/build-wheel.sh).

The version is the VERSION file at the repository root, the one the binary compiles in (an sdist,
which has no repository around it, takes it from its PKG-INFO); the build writes it into the package
as ``quadcat/_version_build.py``.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent


def package_version() -> str:
    """The VERSION file at the repository root, or, in an sdist, the version its PKG-INFO recorded."""
    version_file = REPOSITORY / "VERSION"
    if version_file.is_file():
        return version_file.read_text().strip()
    pkg_info = HERE / "PKG-INFO"
    if pkg_info.is_file():
        for line in pkg_info.read_text().splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    raise SystemExit(f"quadcat build: no VERSION file at {version_file} (nor a PKG-INFO beside setup.py)")


def note(message: str) -> None:
    print(f"quadcat build: {message}", file=sys.stderr)


def binary_to_bundle():
    """The path of the binary to bundle, or None."""
    choice = os.environ.get("QUADCAT_BUNDLE_BINARY", "").strip()
    if choice.lower() == "none":
        note("QUADCAT_BUNDLE_BINARY=none: bundling no binary (the package will use QUADCAT_BIN or quadcat on PATH)")
        return None
    if choice:
        path = Path(choice).expanduser().resolve()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise SystemExit(f"quadcat build: QUADCAT_BUNDLE_BINARY={choice} is not an executable file")
        note(f"bundling {path}")
        return path
    if not (REPOSITORY / "Package.swift").is_file():
        note("no Swift sources beside this package: bundling no binary (use QUADCAT_BIN or quadcat on PATH)")
        return None
    swift = shutil.which("swift")
    if swift is None:
        note("the Swift toolchain is not on PATH: bundling no binary (use QUADCAT_BIN, or `make install` "
             "on a machine with Swift, to put quadcat on PATH)")
        return None
    note("compiling the quadcat binary: swift build -c release --product quadcat (a few minutes the first time)")
    command = [swift, "build", "-c", "release", "--product", "quadcat"]
    result = subprocess.run(command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        output = result.stdout.decode("utf-8", "replace")[-6000:]
        raise SystemExit(
            f"quadcat build: `{' '.join(command)}` failed in {REPOSITORY} (exit {result.returncode}):\n{output}\n"
            "Install the system libraries it needs (scripts/install-deps.sh), or install the package "
            "without a binary: QUADCAT_BUNDLE_BINARY=none pip install ./python")
    binary_directory = subprocess.run(
        [swift, "build", "-c", "release", "--show-bin-path"], cwd=REPOSITORY, stdout=subprocess.PIPE, check=True).stdout.decode().strip()
    return Path(binary_directory) / "quadcat"


class BuildWithBinary(build_py):
    """Copies the binary into the built package as ``quadcat/_bin/quadcat``, and writes the version
    into ``quadcat/_version_build.py``."""

    def run(self):
        super().run()
        if not self.editable_mode:  # an editable install reads VERSION from the checkout
            version_module = Path(self.build_lib) / "quadcat" / "_version_build.py"
            version_module.write_text(f'"""Written by setup.py from VERSION."""\nVERSION = {package_version()!r}\n')
        target = Path(self.build_lib) / "quadcat" / "_bin" / "quadcat"
        shutil.rmtree(target.parent, ignore_errors=True)  # never ship a binary left by an earlier build
        binary = bundled_binary()
        if binary is not None and not self.editable_mode:
            target.parent.mkdir(parents=True)
            shutil.copyfile(binary, target)
            os.chmod(target, 0o755)


class PlatformWheel(bdist_wheel):
    """A wheel holding a native binary is platform-specific (any Python 3, no ABI)."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = bundled_binary() is None

    def get_tag(self):
        python, abi, platform = super().get_tag()
        return ("py3", "none", platform) if not self.root_is_pure else (python, abi, platform)


class BinaryDistribution(Distribution):
    """With a binary bundled, the package installs into platlib (the wheel's root, not
    ``.data/purelib``), where ``auditwheel repair`` looks for native code."""

    def has_ext_modules(self):
        return bundled_binary() is not None


_decided = []


def bundled_binary():
    """:func:`binary_to_bundle`, decided once per build."""
    if not _decided:
        _decided.append(binary_to_bundle())
    return _decided[0]


setup(version=package_version(), distclass=BinaryDistribution, cmdclass={"build_py": BuildWithBinary, "bdist_wheel": PlatformWheel})
