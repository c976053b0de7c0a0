#!/bin/sh
# Installs the system libraries quadcat links against, when they are missing (Debian/Ubuntu):
#   liblz4-dev       LZ4 block compression of chunks
#   libopenblas-dev  BLAS for the selectors' matrix products (see docs/ARCHITECTURE.md and BENCHMARKS.md)
#   libsqlite3-dev   SQLite, through GRDB
#   libssl-dev       OpenSSL's libcrypto: SHA-256 (text, recipe and content hashes)
#   zlib1g-dev       gzip-compressed JSONL inputs
#   libzstd-dev      zstd-compressed JSONL inputs
#   libsimdjson-dev  simdjson, the fast path of the JSONL record parser
#   libxxhash-dev    the benchmark's reference xxHash64 (quadcat-bench only)
#   python3-venv     the virtual environment `make test` runs the Python package's tests in (only when
#                    python3 lacks ensurepip/venv, as Debian's python3 does without this package)
# and, with --test, what the tests need beyond that:
#   chromium         headless browser that renders the HTML report in the report tests
set -eu
packages="liblz4-dev libopenblas-dev libsqlite3-dev libssl-dev zlib1g-dev libzstd-dev libsimdjson-dev libxxhash-dev"
if [ "${1:-}" = "--test" ]; then packages="$packages chromium"; fi
missing=""
for package in $packages; do
    dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
done
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$missing python3-venv"
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
