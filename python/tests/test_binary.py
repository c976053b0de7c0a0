"""Which binary the package runs, and `python -m quadcat` running it."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import quadcat


def run_python(code_or_args, env=None, cwd=None):
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    return subprocess.run([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def test_python_m_quadcat_runs_the_cli_and_says_which_binary():
    version = run_python(["-m", "quadcat", "--version"])
    assert version.returncode == 0 and version.stdout.strip() == quadcat.__version__
    which = run_python(["-m", "quadcat", "--which"])
    assert which.returncode == 0 and which.stdout.strip() == f"{quadcat.binary()} ({quadcat.binary_origin()})"
    failing = run_python(["-m", "quadcat", "info", "/nonexistent/cat.quadcat"])
    assert failing.returncode == 1 and "is not a quadcat catalog" in failing.stderr


def test_the_installed_console_script_runs_the_cli():
    script = Path(sys.executable).with_name("quadcat")
    if not script.exists():
        pytest.skip("the package is not installed in this interpreter's environment (no quadcat script beside python)")
    result = subprocess.run([str(script), "--version"], stdout=subprocess.PIPE, text=True)
    assert result.returncode == 0 and result.stdout.strip() == quadcat.__version__


def test_quadcat_bin_overrides_and_is_checked(tmp_path, monkeypatch):
    real = quadcat.binary()
    monkeypatch.setenv("QUADCAT_BIN", real)
    assert quadcat.binary() == str(Path(real).resolve()) and quadcat.binary_origin() == "QUADCAT_BIN"
    monkeypatch.setenv("QUADCAT_BIN", str(tmp_path / "missing"))
    with pytest.raises(quadcat.QuadcatError, match="is not an executable file") as caught:
        quadcat.Catalog(tmp_path / "c.quadcat").info()
    assert caught.value.status == 127


def test_without_any_binary_the_error_says_what_to_do(tmp_path):
    """A copy of the package with no bundled binary, no source build beside it, no QUADCAT_BIN and
    nothing on PATH but its own console script."""
    package = tmp_path / "site" / "quadcat"
    shutil.copytree(Path(quadcat.__file__).parent, package, ignore=shutil.ignore_patterns("_bin", "__pycache__"))
    scripts = tmp_path / "bin"
    scripts.mkdir()
    wrapper = scripts / "quadcat"
    wrapper.write_text(f"#!{sys.executable}\nfrom quadcat.__main__ import main\nmain()\n")
    wrapper.chmod(0o755)
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": str(scripts), "HOME": str(tmp_path)}
    result = run_python("import quadcat; quadcat.binary()", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "no quadcat binary" in result.stderr and "make install" in result.stderr and "QUADCAT_BIN" in result.stderr
    wrapped = subprocess.run([str(wrapper), "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert wrapped.returncode == 127 and "no quadcat binary" in wrapped.stderr  # no loop through itself


def test_the_wheel_bundles_the_binary_when_installed_by_make_test():
    if os.environ.get("QUADCAT_BIN"):
        pytest.skip("QUADCAT_BIN is set, so it decides")
    if quadcat.binary_origin() != "bundled":
        pytest.skip(f"this install has no bundled binary (it runs {quadcat.binary_origin()})")
    assert Path(quadcat.binary()).parent == Path(quadcat.__file__).parent / "_bin"


def test_one_version_the_VERSION_file_the_package_and_the_binary():
    """The VERSION file at the repository root is the one place the version is written: the package
    reads it (at build time, or from the checkout) and the binary compiles it in."""
    version_file = Path(__file__).resolve().parents[2] / "VERSION"
    if not version_file.is_file():
        pytest.skip("not in a quadcat checkout")
    version = version_file.read_text().strip()
    assert quadcat.__version__ == version
    said = subprocess.run([quadcat.binary(), "--version"], stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    assert said == version
