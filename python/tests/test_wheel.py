"""The wheel `make wheel` builds, installed into a fresh virtual environment and run with the toolchain
and the build tree out of sight: PATH is the venv's bin, /usr/bin and /bin (no /opt/swift, no .build),
LD_LIBRARY_PATH and QUADCAT_BIN are unset, and the working directory is a temporary one.

It runs when QUADCAT_WHEEL names the wheel (`make test` and `make wheel-test` set it) and skips
otherwise. Checks: the binary is the bundled one and says the wheel's version; every shared library it
needs (ldd) and every one it loads while running the demo and a select (LD_DEBUG=libs, which sees
dlopen too) is either bundled in the wheel (quadcat.libs/) or one of the manylinux policy's system
libraries; OpenBLAS runs the CPU's own kernels; subsets record the wheel's version.
"""
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

WHEEL = os.environ.get("QUADCAT_WHEEL", "")
REPOSITORY = Path(__file__).resolve().parents[2]

# The manylinux policies' system libraries (auditwheel's lib_whitelist, the same from manylinux_2_24 to
# manylinux_2_41) plus the loader and the kernel's vDSO.
ALLOWED_SYSTEM_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libmvec.so.1", "libdl.so.2", "librt.so.1", "libpthread.so.0", "libutil.so.1",
    "libanl.so.1", "libnsl.so.1", "libresolv.so.2", "libgcc_s.so.1", "libstdc++.so.6", "libatomic.so.1",
    "libz.so.1", "libexpat.so.1", "libX11.so.6", "libXext.so.6", "libXrender.so.1", "libICE.so.6", "libSM.so.6",
    "libGL.so.1", "libgobject-2.0.so.0", "libgthread-2.0.so.0", "libglib-2.0.so.0",
    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "linux-vdso.so.1",
}
# What `make wheel` bundles (auditwheel renames them libNAME-HASH.so...).
BUNDLED = {"libopenblas", "libopenblasp", "libgfortran", "libquadmath", "libsqlite3", "libzstd", "liblz4", "libcrypto", "libsimdjson"}
GENERIC_OPENBLAS_CORES = {"prescott", "core2", "katmai", "coppermine", "northwood", "banias", "penryn", "dunnington", "nehalem", "unknown"}

pytestmark = pytest.mark.skipif(not WHEEL, reason="QUADCAT_WHEEL is not set: `make wheel-test` (or `make test`) builds the wheel and runs this")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv (from the base interpreter, not this test's venv) with the wheel installed."""
    wheel = Path(WHEEL).resolve()
    assert wheel.is_file(), f"QUADCAT_WHEEL={WHEEL} is not a file"
    root = tmp_path_factory.mktemp("wheel")
    venv = root / "venv"
    base = getattr(sys, "_base_executable", None) or sys.executable
    # Nothing of this process's environment (PYTHONPATH naming the checkout's package, LD_LIBRARY_PATH,
    # QUADCAT_BIN) reaches the fresh venv.
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8", "TMPDIR": str(root)}
    subprocess.run([base, "-m", "venv", str(venv)], check=True, env=clean)
    python = venv / "bin" / "python"
    # numpy, the package's one dependency, as a wheel in a local directory (from pip's cache when it is
    # there), so the install itself reads no index. Without it, the wheel goes in alone and only the
    # binary is checked.
    wheelhouse = root / "wheelhouse"
    numpy_version = __import__("numpy").__version__
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:", "--no-deps",
         "-d", str(wheelhouse), f"numpy=={numpy_version}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with_numpy = fetched.returncode == 0
    command = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index"]
    command += ["--find-links", str(wheelhouse)] if with_numpy else ["--no-deps"]
    subprocess.run([*command, str(wheel)], check=True, env=clean)
    binary = next((venv / "lib").glob("python3*/site-packages/quadcat/_bin/quadcat"))
    work = root / "work"
    work.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8", "TMPDIR": str(root)}
    return {"wheel": wheel, "venv": venv, "python": python, "binary": binary, "env": env, "work": work,
            "with_numpy": with_numpy, "numpy_note": fetched.stdout[-500:]}


def run(installed, *args, extra_env=None, check=True):
    env = dict(installed["env"], **(extra_env or {}))
    result = subprocess.run(list(args), env=env, cwd=installed["work"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check:
        assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def version():
    return (REPOSITORY / "VERSION").read_text().strip()


def library_name(path_or_soname):
    """libcrypto-7c3c55df.so.3 -> libcrypto; /lib/x86_64-linux-gnu/libc.so.6 -> libc.so.6 (kept whole for system libraries)."""
    return Path(path_or_soname).name


def check_library(name, path, installed):
    """A library is allowed when it is a policy system library or a bundled one loaded from the wheel."""
    if name in ALLOWED_SYSTEM_LIBRARIES:
        return
    stem = re.split(r"[-.]", name, maxsplit=1)[0]
    assert stem in BUNDLED, f"{name} ({path}) is neither bundled in the wheel nor a manylinux system library"
    assert path and Path(path).resolve().is_relative_to(installed["venv"].resolve()), f"{name} was loaded from {path}, not from the wheel's quadcat.libs"


def test_the_wheel_carries_the_version_and_the_bundled_libraries(installed):
    name = installed["wheel"].name
    assert name.startswith(f"quadcat-{version()}-py3-none-manylinux_") and name.endswith(".whl"), name
    with zipfile.ZipFile(installed["wheel"]) as archive:
        names = archive.namelist()
        metadata = archive.read(f"quadcat-{version()}.dist-info/METADATA").decode()
    assert "quadcat/_bin/quadcat" in names
    bundled = {re.split(r"[-.]", Path(n).name, maxsplit=1)[0] for n in names if n.startswith("quadcat.libs/")}
    assert bundled >= {"libsqlite3", "libzstd", "liblz4", "libcrypto", "libsimdjson", "libgfortran"}, bundled
    assert bundled & {"libopenblas", "libopenblasp"}, bundled
    for extra in ("datasets", "ray", "features", "parquet"):
        assert f"Provides-Extra: {extra}" in metadata


def test_the_installed_command_runs_the_bundled_binary_and_says_the_version(installed):
    assert run(installed, "quadcat", "--version").stdout.strip() == version()
    assert run(installed, str(installed["binary"]), "--version").stdout.strip() == version()
    if installed["with_numpy"]:
        which = run(installed, str(installed["python"]), "-c", "import quadcat; print(quadcat.__version__, quadcat.binary(), quadcat.binary_origin())")
        assert which.stdout.split() == [version(), str(installed["binary"]), "bundled"]


def test_ldd_lists_only_bundled_and_policy_libraries(installed):
    output = run(installed, "ldd", str(installed["binary"])).stdout
    assert "not found" not in output, output
    assert "swift" not in output.lower() and "/.build" not in output, output
    for line in output.strip().splitlines():
        line = line.strip()
        if "=>" in line:
            soname, target = (part.strip() for part in line.split("=>", 1))
            path = target.split(" (")[0].strip()
        else:
            path = line.split(" (")[0].strip()
            soname = library_name(path)
        check_library(library_name(soname), path, installed)


def test_demo_and_select_load_only_bundled_and_policy_libraries(installed, tmp_path):
    demo = tmp_path / "demo"
    trace = tmp_path / "ld"
    binary = str(installed["binary"])  # itself, not the console script: LD_DEBUG would trace Python too
    run(installed, binary, "demo", "--dir", str(demo), "--rows", "3000",
        extra_env={"LD_DEBUG": "libs", "LD_DEBUG_OUTPUT": str(trace)})
    catalog = demo / "demo.quadcat"
    selected = run(installed, binary, "select", str(catalog), "--corpus", "pool", "--target", "python", "--selector", "less",
                   "--budget", "2%", "--as", "wheel-less", extra_env={"LD_DEBUG": "libs", "LD_DEBUG_OUTPUT": str(trace)})
    assert "wheel-less@1: 60 of 60 rows selected by less" in selected.stdout, selected.stdout
    shown = run(installed, "quadcat", "show", str(catalog), "wheel-less").stdout
    assert f"by quadcat {version()}" in shown, shown
    loaded = {}
    for log in tmp_path.glob("ld.*"):
        for match in re.finditer(r"calling init: (\S+)", log.read_text()):
            loaded[library_name(match.group(1))] = match.group(1)
    assert loaded, "LD_DEBUG wrote nothing"
    for name, path in loaded.items():
        check_library(name, path, installed)
    assert {re.split(r"[-.]", n, maxsplit=1)[0] for n in loaded} >= {"libsqlite3", "libcrypto", "libgfortran"}
    if installed["with_numpy"]:
        code = ("import sys, quadcat; cat = quadcat.Catalog(sys.argv[1]); "
                "s = cat.select(corpus='pool', target='python', selector='gtp', budget='2%', name='wheel-gtp'); "
                "print(len(s.rows), s.lineage.tool_version)")
        printed = run(installed, str(installed["python"]), "-c", code, str(catalog)).stdout.split()
        assert int(printed[0]) > 0 and printed[1] == version()


def test_openblas_runs_the_cpus_own_kernels(installed):
    """The bundled OpenBLAS is the dynamic-architecture build; where it does not know the CPU, the binary
    re-executes itself with OPENBLAS_CORETYPE (Selectors' BLAS.useOptimizedKernels), through the bundled
    library as through the system's."""
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if " avx2" not in flags:
        pytest.skip("no AVX2 on this CPU: OpenBLAS's generic kernels are its own")
    result = run(installed, str(installed["binary"]), "--version", extra_env={"OPENBLAS_VERBOSE": "2"})
    cores = re.findall(r"Core: (\S+)", result.stdout + result.stderr)
    assert cores, "OPENBLAS_VERBOSE printed no core: is the bundled OpenBLAS the dynamic-architecture build?"
    assert cores[-1].lower() not in GENERIC_OPENBLAS_CORES, cores
