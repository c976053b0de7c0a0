"""A reader of quadcat catalogs written from docs/FORMAT.md alone, for test_format.py.

It shares no code with quadcat (neither the Swift sources nor the Python package): SQLite through the
standard library, LZ4 blocks, the byte shuffle, XXH64 and the dtypes' layouts as the document gives
them. Where it disagrees with the catalogs the binary writes, the document or the code is wrong.
"""
import hashlib
import re
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[2]
FORMAT_MD = REPOSITORY / "docs" / "FORMAT.md"

# MARK: - XXH64 (seed 0), as FORMAT.md section 1 names it

_P1, _P2, _P3, _P4, _P5 = (
    0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)
_M = (1 << 64) - 1


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _M, 31) * _P1) & _M


def _merge(acc: int, val: int) -> int:
    return ((acc ^ _round(0, val)) * _P1 + _P4) & _M


def xxh64(data: bytes, seed: int = 0) -> int:
    n = len(data)
    p = 0
    if n >= 32:
        v1, v2, v3, v4 = (seed + _P1 + _P2) & _M, (seed + _P2) & _M, seed, (seed - _P1) & _M
        lanes = struct.unpack_from(f"<{(n // 32) * 4}Q", data)
        for i in range(0, len(lanes), 4):
            v1 = _round(v1, lanes[i])
            v2 = _round(v2, lanes[i + 1])
            v3 = _round(v3, lanes[i + 2])
            v4 = _round(v4, lanes[i + 3])
        p = (n // 32) * 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M
        for v in (v1, v2, v3, v4):
            h = _merge(h, v)
    else:
        h = (seed + _P5) & _M
    h = (h + n) & _M
    while p + 8 <= n:
        (k,) = struct.unpack_from("<Q", data, p)
        h = ((_rotl(h ^ _round(0, k), 27) * _P1) + _P4) & _M
        p += 8
    if p + 4 <= n:
        (k,) = struct.unpack_from("<I", data, p)
        h = ((_rotl(h ^ ((k * _P1) & _M), 23) * _P2) + _P3) & _M
        p += 4
    while p < n:
        h = (_rotl(h ^ ((data[p] * _P5) & _M), 11) * _P1) & _M
        p += 1
    h ^= h >> 33
    h = (h * _P2) & _M
    h ^= h >> 29
    h = (h * _P3) & _M
    h ^= h >> 32
    return h


def _xxh64_fast(data: bytes) -> int:
    """The `xxhash` package's XXH64 when it is installed (the same function, in C), else ours."""
    try:
        import xxhash
    except ImportError:
        return xxh64(data)
    return xxhash.xxh64_intdigest(data)


# MARK: - LZ4 block format and the byte shuffle (section 5)

def _extended_length(src: bytes, i: int, length: int) -> Tuple[int, int]:
    """An LZ4 length whose 4-bit field is 15: add bytes until one is not 255."""
    if length == 15:
        while True:
            b = src[i]
            i += 1
            length += b
            if b != 255:
                break
    return length, i


def lz4_block_decompress(src: bytes, raw_length: int) -> bytes:
    out = bytearray()
    i, n = 0, len(src)
    while i < n:
        token = src[i]
        literals, i = _extended_length(src, i + 1, token >> 4)
        out += src[i:i + literals]
        i += literals
        if i >= n:
            break
        offset = src[i] | (src[i + 1] << 8)
        if offset == 0 or offset > len(out):
            raise ValueError("LZ4: bad match offset")
        length, i = _extended_length(src, i + 2, token & 15)
        length += 4
        start = len(out) - offset
        if length <= offset:
            out += out[start:start + length]
        else:
            for k in range(length):
                out.append(out[start + k])
    if len(out) != raw_length:
        raise ValueError(f"LZ4: decoded {len(out)} bytes, the header says {raw_length}")
    return bytes(out)


def unshuffle(shuffled: bytes, element_size: int) -> bytes:
    if element_size == 1:
        return shuffled
    planes = np.frombuffer(shuffled, dtype=np.uint8).reshape(element_size, -1)
    return planes.T.copy().tobytes()


# MARK: - The document's tables

def format_table(name: str) -> List[Dict[str, str]]:
    """The rows of the table under `<!-- format-table: NAME -->` in FORMAT.md, keyed by header."""
    lines = FORMAT_MD.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"<!-- format-table: {name} -->") + 1
    cells = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]
    header = cells(lines[start])
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, cells(line))))
    return rows


def schema_tables() -> Dict[str, List[str]]:
    """Table name -> column names, from the `### \\`table\\`` sections of FORMAT.md section 8."""
    tables: Dict[str, List[str]] = {}
    current: Optional[str] = None
    for line in FORMAT_MD.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^#{3,4} `(\w+)`$", line)
        if heading:
            current = heading.group(1)
            tables[current] = []
            continue
        if line.startswith("#"):
            current = None
        elif current and line.startswith("| ") and not line.startswith("| column") and not line.startswith("| ---"):
            tables[current].append(line.split("|")[1].strip())
    return tables


HEADER_FIELDS = {row["field"]: (int(row["offset"]), int(row["size"])) for row in format_table("chunk-header")}
DTYPES = {int(row["code"]): (row["dtype"], int(row["element_size"])) for row in format_table("dtype-codes")}
CODECS = {int(row["code"]): row["codec"] for row in format_table("codec-codes")}
_INTS = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}


# MARK: - The catalog

@dataclass
class Chunk:
    seq: int
    first_row: int
    row_count: int
    file: str
    offset: int
    length: int
    codec: str
    raw_length: int
    checksum: str


@dataclass
class Array:
    id: int
    dtype: str
    dim: int
    row_count: int
    content_hash: str
    chunks: List[Chunk]


class CatalogReader:
    """Opens `root` read-only and decodes its arrays by the rules of FORMAT.md."""

    def __init__(self, root: Path, verify_checksums: bool = True):
        self.root = Path(root)
        self.verify_checksums = verify_checksums
        self._payloads: Dict[Tuple[str, int], bytes] = {}
        self.db = sqlite3.connect(f"file:{self.root / 'catalog.sqlite'}?mode=ro", uri=True)
        self.db.row_factory = sqlite3.Row

    def close(self) -> None:
        self.db.close()

    def query(self, sql: str, *args) -> List[sqlite3.Row]:
        return self.db.execute(sql, args).fetchall()

    def migrations(self) -> List[str]:
        return [r[0] for r in self.query("SELECT identifier FROM grdb_migrations")]

    def array(self, array_id: int) -> Array:
        (row,) = self.query("SELECT * FROM array WHERE id = ?", array_id)
        chunks = [Chunk(**{k: c[k] for k in c.keys() if k != "array_id"})
                  for c in self.query("SELECT * FROM chunk WHERE array_id = ? ORDER BY seq", array_id)]
        return Array(row["id"], row["dtype"], row["dim"], row["row_count"], row["content_hash"], chunks)

    def header(self, chunk: Chunk) -> Dict[str, object]:
        with open(self.root / "chunks" / chunk.file, "rb") as f:
            f.seek(chunk.offset)
            raw = f.read(64)
        fields: Dict[str, object] = {}
        for name, (offset, size) in HEADER_FIELDS.items():
            piece = raw[offset:offset + size]
            fields[name] = piece if name == "magic" else struct.unpack(_INTS[size], piece)[0]
        return {"bytes": raw, **fields}

    def raw_payload(self, array: Array, chunk: Chunk) -> bytes:
        """The decoded payload of one chunk, after every check of section 4 (decoded once)."""
        key = (chunk.file, chunk.offset)
        if key not in self._payloads:
            self._payloads[key] = self._decode(array, chunk)
        return self._payloads[key]

    def _decode(self, array: Array, chunk: Chunk) -> bytes:
        h = self.header(chunk)
        assert h["magic"] == b"QCCHUNK\x00", "bad magic"
        checked = HEADER_FIELDS["header_checksum"][0]
        assert xxh64(h["bytes"][:checked]) == h["header_checksum"], "header checksum"
        assert h["version"] == 1, f"chunk format version {h['version']}"
        dtype, element_size = DTYPES[h["dtype"]]
        assert (dtype, element_size) == (array.dtype, h["element_size"]), (dtype, array.dtype)
        assert CODECS[h["codec"]] == chunk.codec
        assert (h["dim"], h["rows"], h["raw_length"]) == (array.dim, chunk.row_count, chunk.raw_length)
        assert f"{h['checksum']:016x}" == chunk.checksum
        assert chunk.offset % 64 == 0 and chunk.length % 64 == 0 and chunk.length >= 64 + h["stored_length"]
        with open(self.root / "chunks" / chunk.file, "rb") as f:
            f.seek(chunk.offset + 64)
            stored = f.read(h["stored_length"])
        assert len(stored) == h["stored_length"], "payload runs past the end of the file"
        if chunk.codec == "raw":
            raw = stored
        elif chunk.codec == "lz4":
            raw = lz4_block_decompress(stored, chunk.raw_length)
        else:
            raw = unshuffle(lz4_block_decompress(stored, chunk.raw_length), element_size)
        assert len(raw) == chunk.raw_length
        if self.verify_checksums:
            assert f"{_xxh64_fast(raw):016x}" == chunk.checksum, "payload checksum"
        return raw

    def _chunk_of(self, array: Array, row: int) -> Chunk:
        for chunk in array.chunks:
            if chunk.first_row <= row < chunk.first_row + chunk.row_count:
                return chunk
        raise IndexError(f"row {row} is not in array {array.id}")

    # Section 6: payload layouts.

    def vector_row(self, array: Array, row: int) -> np.ndarray:
        """Row `row` of a vector array as float32."""
        chunk = self._chunk_of(array, row)
        raw = self.raw_payload(array, chunk)
        r, rows, dim = row - chunk.first_row, chunk.row_count, array.dim
        if array.dtype in ("f32", "f16", "bf16"):
            size = 4 if array.dtype == "f32" else 2
            piece = raw[r * dim * size:(r + 1) * dim * size]
            if array.dtype == "f32":
                return np.frombuffer(piece, dtype="<f4").copy()
            if array.dtype == "f16":
                return np.frombuffer(piece, dtype="<f2").astype(np.float32)
            bits = np.frombuffer(piece, dtype="<u2").astype(np.uint32) << 16
            return bits.view(np.float32)
        return self.codes(array, row).astype(np.float32) * self.scale(array, row)

    def vectors(self, array: Array) -> np.ndarray:
        """Every row of a vector array as float32, [row_count, dim]."""
        return np.stack([self.vector_row(array, r) for r in range(array.row_count)]) if array.row_count < 64 else \
            np.concatenate([self._chunk_vectors(array, c) for c in array.chunks])

    def _chunk_vectors(self, array: Array, chunk: Chunk) -> np.ndarray:
        raw, rows, dim = self.raw_payload(array, chunk), chunk.row_count, array.dim
        if array.dtype == "f32":
            return np.frombuffer(raw, dtype="<f4").reshape(rows, dim)
        if array.dtype == "f16":
            return np.frombuffer(raw, dtype="<f2").reshape(rows, dim).astype(np.float32)
        if array.dtype == "bf16":
            return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).reshape(rows, dim)
        scales = np.frombuffer(raw, dtype="<f4", count=rows)
        if array.dtype == "i8":
            codes = np.frombuffer(raw, dtype=np.int8, offset=4 * rows).reshape(rows, dim)
        else:
            row_bytes = (dim + 1) // 2
            packed = np.frombuffer(raw, dtype=np.uint8, offset=4 * rows).reshape(rows, row_bytes)
            nibbles = np.empty((rows, row_bytes * 2), dtype=np.int16)
            nibbles[:, 0::2] = packed & 0x0F
            nibbles[:, 1::2] = packed >> 4
            codes = np.where(nibbles >= 8, nibbles - 16, nibbles)[:, :dim]
        return codes.astype(np.float32) * scales[:, None]

    def scale(self, array: Array, row: int) -> np.float32:
        chunk = self._chunk_of(array, row)
        raw = self.raw_payload(array, chunk)
        return np.frombuffer(raw, dtype="<f4", count=1, offset=4 * (row - chunk.first_row))[0]

    def codes(self, array: Array, row: int) -> np.ndarray:
        """The integer codes of an i8 or i4 row."""
        chunk = self._chunk_of(array, row)
        raw = self.raw_payload(array, chunk)
        r, rows, dim = row - chunk.first_row, chunk.row_count, array.dim
        if array.dtype == "i8":
            start = 4 * rows + r * dim
            return np.frombuffer(raw, dtype=np.int8, count=dim, offset=start).astype(np.int32)
        assert array.dtype == "i4"
        row_bytes = (dim + 1) // 2
        packed = np.frombuffer(raw, dtype=np.uint8, count=row_bytes, offset=4 * rows + r * row_bytes)
        nibbles = np.empty(row_bytes * 2, dtype=np.int32)
        nibbles[0::2] = packed & 0x0F
        nibbles[1::2] = packed >> 4
        nibbles = np.where(nibbles >= 8, nibbles - 16, nibbles)
        return nibbles[:dim]

    def records(self, array: Array, rows: List[int]) -> List[bytes]:
        out = []
        for row in rows:
            chunk = self._chunk_of(array, row)
            raw = self.raw_payload(array, chunk)
            offsets = struct.unpack_from(f"<{chunk.row_count + 1}Q", raw)
            data = 8 * (chunk.row_count + 1)
            r = row - chunk.first_row
            out.append(raw[data + offsets[r]:data + offsets[r + 1]])
        return out

    def members(self, array: Array) -> List[Tuple[int, float, float]]:
        out = []
        for chunk in array.chunks:
            raw = self.raw_payload(array, chunk)
            out.extend(struct.iter_unpack("<qdd", raw))
        return out

    def bitmap(self, array: Array) -> np.ndarray:
        (chunk,) = array.chunks
        words = np.frombuffer(self.raw_payload(array, chunk), dtype="<u8")
        bits = np.unpackbits(words.view(np.uint8), bitorder="little")
        assert not bits[array.row_count:].any(), "bits past the row count are set"
        return bits[:array.row_count].astype(bool)

    # Section 10: hashes.

    def array_content_hash(self, array: Array) -> str:
        h = hashlib.sha256(f"quadcat-array-v1 {array.dtype} {array.dim} {array.row_count}".encode())
        for chunk in array.chunks:
            h.update(struct.pack("<Q", int(chunk.checksum, 16)))
        return h.hexdigest()

    def column_content_hash(self, array_id: int, mask_array_id: Optional[int]) -> str:
        value = self.array(array_id).content_hash
        if mask_array_id is None:
            return value
        return hashlib.sha256(f"{value} mask {self.array(mask_array_id).content_hash}".encode()).hexdigest()

    def subset_content_hash(self, members_array_id: int) -> str:
        array = self.array(members_array_id)
        h = hashlib.sha256(f"quadcat-members-v1 {array.row_count}\n".encode())
        for chunk in array.chunks:
            h.update(self.raw_payload(array, chunk))
        return h.hexdigest()
