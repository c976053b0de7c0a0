#!/bin/sh
# The wheel in a machine with Python alone: a minimal Debian 12 root (debootstrap --variant=minbase with
# python3 and python3-venv: no Swift, no OpenBLAS, gfortran, simdjson or build tree) entered with chroot.
# Installs the wheel into a venv there (numpy from a local wheel, no index) and runs --version, ldd, the
# demo and a select, and the Python API. Needs root; makes the root with debootstrap when it is missing
# (network to a Debian mirror, about 5 minutes, 275 MB).
#
#   scripts/test-wheel-chroot.sh [WHEEL] [ROOT]      (defaults: dist/quadcat-VERSION-*.whl, /tmp/quadcat-pyroot)
set -eu
cd "$(dirname "$0")/.."
version=$(cat VERSION)
wheel=${1:-$(ls dist/quadcat-"$version"-*.whl)}
root=${2:-/tmp/quadcat-pyroot}
[ "$(id -u)" -eq 0 ] || { echo "test-wheel-chroot: needs root (chroot)" >&2; exit 2; }
if [ ! -x "$root/usr/bin/python3" ]; then
    command -v debootstrap >/dev/null || { echo "test-wheel-chroot: needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
    debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" http://deb.debian.org/debian >&2
fi
for library in libopenblas libgfortran libquadmath libsimdjson; do
    if ls "$root"/usr/lib/*/"$library"* >/dev/null 2>&1; then echo "test-wheel-chroot: $root has $library: not a clean root" >&2; exit 1; fi
done
[ ! -e "$root/opt/swift" ] || { echo "test-wheel-chroot: $root has /opt/swift" >&2; exit 1; }

work=$root/tmp/wheel-test
rm -rf "$work"
mkdir -p "$work/wheelhouse"
cp "$wheel" "$work/wheelhouse/"
python3 -m pip download -q --disable-pip-version-check --only-binary=:all: --no-deps --python-version 3.11 \
    -d "$work/wheelhouse" numpy >&2
mounted=""
cleanup() { for m in $mounted; do umount "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
mount -t proc proc "$root/proc" && mounted="$root/proc"
mount --bind /dev "$root/dev" && mounted="$root/dev $mounted"

chroot "$root" env -i PATH=/usr/bin:/bin HOME=/tmp/wheel-test LANG=C.UTF-8 VERSION="$version" sh -eu -c '
cd /tmp/wheel-test
python3 --version
python3 -m venv venv
venv/bin/pip install -q --disable-pip-version-check --no-index --find-links wheelhouse quadcat
export PATH=/tmp/wheel-test/venv/bin:/usr/bin:/bin
test "$(quadcat --version)" = "$VERSION"
binary=$(python -c "import quadcat; print(quadcat.binary())")
echo "binary: $binary ($(python -c "import quadcat; print(quadcat.binary_origin())"))"
ldd "$binary"
if ldd "$binary" | grep -q "not found"; then echo "a library is missing" >&2; exit 1; fi
OPENBLAS_VERBOSE=2 "$binary" --version 2>&1 | grep Core
quadcat demo --dir demo --rows 3000 | tail -n 3
quadcat select demo/demo.quadcat --corpus pool --target python --selector less --budget 2% --as chroot-less
quadcat show demo/demo.quadcat chroot-less | grep "by quadcat $VERSION"
python -c "import quadcat; s = quadcat.Catalog(\"demo/demo.quadcat\").select(corpus=\"pool\", target=\"python\", selector=\"gtp\", budget=\"2%\", name=\"chroot-gtp\"); print(\"python API:\", len(s.rows), \"rows by gtp, quadcat\", s.lineage.tool_version)"
'
echo "test-wheel-chroot: $wheel runs in $root (Python alone)" >&2
