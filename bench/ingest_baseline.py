"""The Python baseline for quadcat's ingest benchmark: what a pipeline written in plain Python does per
record. It reads a JSONL file (plain, gzip or zstd, told apart by the first bytes, as quadcat does),
parses every non-blank line with json.loads and hashes the text with hashlib.sha256. Nothing is
stored: this is the floor a Python ingest cannot go below, not a whole ingest.

    python3 bench/ingest_baseline.py FILE

prints one JSON object: {"seconds", "records", "decoded_bytes", "compression"}; "compression" is
"zstd-unavailable" (and nothing is timed) for a zstd file when the zstandard module is missing.
"""

import gzip
import hashlib
import io
import json
import sys
import time


def open_lines(path):
    with open(path, "rb") as probe:
        magic = probe.read(4)
    if magic[:2] == b"\x1f\x8b":
        return "gzip", gzip.open(path, "rb")
    if magic == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard
        except ImportError:
            return "zstd-unavailable", None
        raw = open(path, "rb")
        return "zstd", io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw), buffer_size=1 << 20)
    return "none", open(path, "rb", buffering=1 << 20)


def main():
    compression, lines = open_lines(sys.argv[1])
    if lines is None:
        print(json.dumps({"compression": compression}))
        return
    start = time.perf_counter()
    records = decoded = 0
    with lines:
        for line in lines:
            decoded += len(line)
            if line.strip():
                record = json.loads(line)
                hashlib.sha256(record["text"].encode("utf-8")).digest()
                records += 1
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "records": records, "decoded_bytes": decoded, "compression": compression}))


if __name__ == "__main__":
    main()
