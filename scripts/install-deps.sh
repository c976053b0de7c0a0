#!/bin/sh
# Installs the system libraries quadcat links against, when they are missing (Debian/Ubuntu):
#   liblz4-dev       LZ4 block compression of chunks
#   libopenblas-dev  BLAS for the selectors' matrix products (see DESIGN.md §2 and BENCHMARKS.md)
#   libsqlite3-dev   SQLite, through GRDB
#   libssl-dev       OpenSSL's libcrypto: SHA-256 (text, recipe and content hashes)
#   zlib1g-dev       gzip-compressed JSONL inputs
#   libzstd-dev      zstd-compressed JSONL inputs
#   libsimdjson-dev  simdjson, the fast path of the JSONL record parser
#   libxxhash-dev    the benchmark's reference xxHash64 (quadcat-bench only)
set -eu
missing=""
for package in liblz4-dev libopenblas-dev libsqlite3-dev libssl-dev zlib1g-dev libzstd-dev libsimdjson-dev libxxhash-dev; do
    dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
