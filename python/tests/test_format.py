"""docs/FORMAT.md against the catalogs the binary writes.

A catalog is built with the `quadcat` CLI from realbench (QUADCAT_REALBENCH, or the sibling
`shared/realbench` of the repository) or, without it, from synthetic files of the same kinds. Then
`format_reader`, written from the document alone, lists its columns, decodes f16, int8 and int4 rows,
records, member lists and bitmaps, and recomputes every array, column, subset and recipe hash; each
result must equal what the binary stored, printed or exported.
"""
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from conftest import REPOSITORY, run_cli
from format_reader import FORMAT_MD, CatalogReader

SEED = 20261123


def realbench_directory():
    """realbench, where QUADCAT_REALBENCH says or beside the repository; None when absent."""
    configured = os.environ.get("QUADCAT_REALBENCH")
    for candidate in ([Path(configured)] if configured else []) + [REPOSITORY.parent / "shared" / "realbench"]:
        if (candidate / "corpus.jsonl").exists():
            return candidate
    return None


class Sources:
    """The files a catalog is built from: realbench's, or synthetic ones of the same kinds."""

    def __init__(self, directory: Path, learning_rates: List[float], checkpoints: int):
        self.directory = directory
        self.learning_rates = learning_rates
        self.checkpoints = checkpoints

    @property
    def embeddings(self) -> Path:
        return self.directory / "embeddings.npy"

    @property
    def val_embeddings(self) -> Path:
        return self.directory / "val_embeddings.npy"


def synthetic_sources(directory: Path) -> Sources:
    rng = np.random.default_rng(7)
    rows, val, dim, emb = 3000, 60, 96, 48
    with open(directory / "corpus.jsonl", "w", encoding="utf-8") as f:
        for i in range(rows):
            f.write(json.dumps({"id": str(i), "domain": f"d{i % 5}", "text": f"document {i} " + "word " * (i % 40)}) + "\n")
    for c in (1, 2):
        np.save(directory / f"grads_ckpt{c}.npy", rng.standard_normal((rows, dim)).astype(np.float16))
        np.save(directory / f"val_grads_ckpt{c}.npy", rng.standard_normal((val, dim)).astype(np.float16))
    for name, n in (("embeddings.npy", rows), ("val_embeddings.npy", val)):
        e = rng.standard_normal((n, emb))
        np.save(directory / name, (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float16))
    return Sources(directory, [2e-5, 1e-5], 2)


class Built:
    def __init__(self, path: Path, sources: Sources):
        self.path = path
        self.sources = sources
        self.reader = CatalogReader(path)

    def show(self, reference: str) -> Dict:
        return json.loads(run_cli("show", self.path, reference, "--json", "--limit", 0).stdout)["subset"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    work = tmp_path_factory.mktemp("format")
    found = realbench_directory()
    if found:
        rates = [c["mean_lr"] for c in json.loads((found / "checkpoints.json").read_text())["checkpoints"]]
        sources = Sources(found, rates[:2], 2)
    else:
        sources = synthetic_sources(work)
    cat = work / "format.quadcat"
    # A column with unusable rows (NaN), stored as f32 with a bitmap.
    masked = np.load(sources.embeddings).astype(np.float32)
    masked[::97] = np.nan
    np.save(work / "masked.npy", masked)
    val_rows = np.load(sources.val_embeddings).shape[0]
    (work / "subtasks.txt").write_text("".join(f"s{r % 3}\n" for r in range(val_rows)))

    run_cli("init", cat)
    run_cli("ingest", cat, sources.directory / "corpus.jsonl", "--corpus", "pool", "--index-field", "domain")
    for c in range(1, sources.checkpoints + 1):
        run_cli("attach", cat, sources.directory / f"grads_ckpt{c}.npy", "--corpus", "pool", "--column", "grad",
                "--checkpoint", c, "--lr", sources.learning_rates[c - 1], "--projection", f"rademacher:{SEED}")
        extra = ["--subtasks", work / "subtasks.txt"] if c == 1 else []
        run_cli("target", "add", cat, "val", sources.directory / f"val_grads_ckpt{c}.npy", "--checkpoint", c,
                "--projection", f"rademacher:{SEED}", *extra)
    for column, precision in (("emb", "as-given"), ("emb8", "int8"), ("emb4", "int4"), ("embb", "bf16")):
        run_cli("attach", cat, sources.embeddings, "--corpus", "pool", "--column", column, "--precision", precision)
        run_cli("target", "add", cat, "val", sources.val_embeddings, "--column", column)
    run_cli("attach", cat, work / "masked.npy", "--corpus", "pool", "--column", "embm", "--nonfinite", "mark-unusable")
    run_cli("target", "add", cat, "val", sources.val_embeddings, "--column", "embm")

    run_cli("select", cat, "--corpus", "pool", "--target", "val", "--selector", "less", "--budget", "5%", "--as", "less")
    run_cli("select", cat, "--corpus", "pool", "--target", "val", "--selector", "rds", "--budget", "2.5%", "--as", "rds8",
            "--embedding-column", "emb8")
    run_cli("select", cat, "--corpus", "pool", "--target", "val", "--selector", "rds", "--budget", 300, "--as", "rdsm",
            "--embedding-column", "embm")
    run_cli("select", cat, "--corpus", "pool", "--selector", "random", "--budget", 250, "--as", "rand", "--seed", 2**64 - 5)
    run_cli("select", cat, "--corpus", "pool", "--target", "val", "--selector", "less", "--budget", 150, "--as", "less",
            "--checkpoints", "2", "--param", "similarity=inner-product")
    # Migration 0002: a query with every kind of line, subsets made from subsets, a metric.
    domains = sorted({json.loads(line)["domain"] for line in (sources.directory / "corpus.jsonl").read_text().splitlines()})
    lines = (sources.directory / "corpus.jsonl").read_text().splitlines()
    (work / "ids.txt").write_text("".join(str(json.loads(line)["id"]) + "\n" for line in lines[5:40]) + "not-a-document\n")
    run_cli("select", cat, "--corpus", "pool", "--target", "val", "--selector", "rds", "--budget", "10%-of-candidates",
            "--as", "query", "--where", f"domain NOT IN ('{domains[0]}', '{domains[1]}') OR domain = '{domains[2]}'",
            "--within", "less@1", "--exclude", "rds8", "--exclude", "rand", "--exclude-ids", work / "ids.txt", "--dedup", "emb:0.95")
    run_cli("combine", cat, "--as", "combined", "less@1", "+", "rds8", "-", "rand")
    run_cli("mix", cat, "--as", "mixed", "--budget", 200, "less@1=60%", "rds8=40%")
    run_cli("metric", cat, "mixed@1", "target_nll=3.866", "--note", "format test")
    built = Built(cat, sources)
    yield built
    built.reader.close()


def column_row(built: Built, name: str):
    (row,) = built.reader.query("SELECT * FROM feature_column WHERE name = ?", name)
    return row


# MARK: - The document's tables against the code's catalogs


def documented_schema():
    """{migration: {table: [columns]}} from FORMAT.md's index section: `### Migration NNNN_name`
    headings, each followed by `#### \\`table\\`` sections (`(added columns)` extends a table)."""
    schema: Dict[str, Dict[str, List[str]]] = {}
    migration = table = None
    for line in FORMAT_MD.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^### Migration (\d{4}_\w+)$", line):
            migration, table = m.group(1), None
            schema[migration] = {}
        elif (m := re.match(r"^#### `(\w+)`", line)) and migration:
            table = m.group(1)
            schema[migration].setdefault(table, [])
        elif line.startswith("#"):
            migration = table = None
        elif table and re.match(r"^\| [a-z_]+ \|", line) and not line.startswith("| column "):
            schema[migration][table].append(line.split("|")[1].strip())
    return schema


def test_every_table_and_column_of_the_index_is_documented(built):
    schema = documented_schema()
    applied = built.reader.migrations()
    assert applied and set(applied) <= set(schema), f"migrations {applied}, documented {sorted(schema)}"
    expected: Dict[str, List[str]] = {}
    for migration in applied:
        for table, columns in schema[migration].items():
            expected.setdefault(table, []).extend(columns)
    actual = {
        name: [c["name"] for c in built.reader.query(f"PRAGMA table_info({name})")]
        for (name,) in built.reader.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'")
    }
    assert actual == expected


def test_the_columns_a_reader_lists_are_the_ones_info_reports(built):
    info = json.loads(run_cli("info", built.path, "--json").stdout)
    (corpus,) = info["corpora"]
    reported = {(c["name"], c["checkpoint"], c["dim"], c["storedDType"], c["usableRows"], c["contentHash"]) for c in corpus["columns"]}
    listed = set()
    for row in built.reader.query("SELECT f.* FROM feature_column f JOIN corpus c ON c.id = f.corpus_id WHERE c.name = 'pool'"):
        array = built.reader.array(row["array_id"])
        listed.add((row["name"], row["checkpoint"], array.dim, array.dtype, row["usable_rows"],
                    built.reader.column_content_hash(row["array_id"], row["mask_array_id"])))
    assert listed == reported
    assert {c[0] for c in listed} == {"grad", "emb", "emb8", "emb4", "embb", "embm"}


def test_chunk_headers_hold_the_documented_fields(built):
    reader = built.reader
    for (array_id,) in reader.query("SELECT id FROM array"):
        array = reader.array(array_id)
        for chunk in array.chunks:
            header = reader.header(chunk)
            assert header["magic"] == b"QCCHUNK\x00" and header["version"] == 1 and header["reserved"] == 0
            assert header["rows"] == chunk.row_count and header["raw_length"] == chunk.raw_length
            assert chunk.length == (64 + header["stored_length"] + 63) // 64 * 64
    # Vector chunks start 64-byte aligned and follow each other without gaps within a segment.
    by_file: Dict[str, List] = {}
    for row in reader.query("SELECT file, offset, length FROM chunk ORDER BY file, offset"):
        by_file.setdefault(row["file"], []).append((row["offset"], row["length"]))
    for file, chunks in by_file.items():
        assert chunks[0][0] == 0
        assert all(a[0] + a[1] == b[0] for a, b in zip(chunks, chunks[1:])), file
        assert (built.path / "chunks" / file).stat().st_size == chunks[-1][0] + chunks[-1][1]
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.qcs", file)


# MARK: - Values


def test_f16_rows_decode_to_the_attached_values(built):
    reader = built.reader
    row = column_row(built, "emb")
    array = reader.array(row["array_id"])
    source = np.load(built.sources.embeddings)
    assert array.dtype == "f16" and array.dim == source.shape[1]
    for r in (0, 1, array.row_count // 2, array.row_count - 1):
        assert np.array_equal(reader.vector_row(array, r), source[r].astype(np.float32))
    # An as-given column's decoded payloads are the file's tensor bytes: their xxh64 is source_hash.
    whole = b"".join(reader.raw_payload(array, c) for c in array.chunks)
    from format_reader import _xxh64_fast
    assert row["source_hash"] == f"xxh64:{_xxh64_fast(whole):016x}"
    assert row["source_dtype"] == "f16"


def quantize(values: np.ndarray, q: int):
    """FORMAT.md's writer policy for i8 (q = 127) and i4 (q = 7), in binary32."""
    m = np.abs(values).max(axis=1)
    with np.errstate(divide="ignore"):
        scale = np.where(m == 0, np.float32(0), m / np.float32(q)).astype(np.float32)
        inverse = np.where(m == 0, np.float32(0), np.float32(q) / m).astype(np.float32)
    codes = np.clip(np.rint(values * inverse[:, None]), -q, q).astype(np.int32)
    return scale, codes


@pytest.mark.parametrize("name,dtype,q", [("emb8", "i8", 127), ("emb4", "i4", 7)])
def test_quantised_rows_decode_to_scale_times_code(built, name, dtype, q):
    reader = built.reader
    array = reader.array(column_row(built, name)["array_id"])
    assert array.dtype == dtype
    source = np.load(built.sources.embeddings).astype(np.float32)
    scale, codes = quantize(source, q)
    # Rows in the first chunk, across a chunk boundary when there is one, and the last.
    rows = {0, 5, array.row_count - 1} | {c.first_row for c in array.chunks} | {c.first_row - 1 for c in array.chunks[1:]}
    for r in sorted(rows):
        assert reader.scale(array, r) == scale[r]
        assert np.array_equal(reader.codes(array, r), codes[r]), r
        decoded = reader.vector_row(array, r)
        assert np.array_equal(decoded, codes[r].astype(np.float32) * scale[r])
        assert np.all(np.abs(decoded - source[r]) <= scale[r] * np.float32(0.5 + 1e-4))
    assert np.array_equal(reader.vectors(array), codes.astype(np.float32) * scale[:, None])


def test_bf16_rows_are_the_upper_halves_of_binary32(built):
    reader = built.reader
    array = reader.array(column_row(built, "embb")["array_id"])
    source = np.load(built.sources.embeddings).astype(np.float32)
    bits = source.view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32).view(np.float32)
    assert array.dtype == "bf16"
    assert np.array_equal(reader.vectors(array), rounded)


def test_rds_scores_on_the_int8_column_are_cosines_of_the_decoded_rows(built):
    """quadcat's RDS scored the int8 column from its own decoding; our decoding gives the same cosines,
    members and export."""
    reader = built.reader
    pool = reader.vectors(reader.array(column_row(built, "emb8")["array_id"])).astype(np.float64)
    (target,) = reader.query("SELECT array_id FROM target_column WHERE name = 'emb8'")
    val = reader.vectors(reader.array(target["array_id"])).astype(np.float64)
    direction = val.sum(axis=0)
    direction /= np.linalg.norm(direction)
    cosines = (pool @ direction / np.linalg.norm(pool, axis=1)).astype(np.float32)

    (subset,) = reader.query("SELECT * FROM subset WHERE name = 'rds8'")
    members = reader.members(reader.array(subset["members_array_id"]))
    rows = np.array([m[0] for m in members])
    scores = np.array([m[1] for m in members], dtype=np.float32)
    assert len(members) == subset["row_count"] == subset["budget"] == math.floor(2.5 * pool.shape[0] / 100)
    assert np.allclose(scores, cosines[rows], rtol=0, atol=2e-7)
    assert scores.min() >= np.sort(cosines)[-len(members)] - 2e-7

    out = built.path.parent / "rds8.npy"
    run_cli("export", built.path, "rds8", "--format", "npy", "--out", out, "--score-field", "score")
    assert np.array_equal(np.load(out), rows)
    assert np.array_equal(np.load(out.with_suffix(".score.npy")), scores)


def test_records_are_the_input_lines_and_documents_hash_their_texts(built):
    reader = built.reader
    (corpus,) = reader.query("SELECT * FROM corpus WHERE name = 'pool'")
    array = reader.array(corpus["records_array_id"])
    lines = (built.sources.directory / "corpus.jsonl").read_bytes().split(b"\n")
    assert array.dtype == "records" and array.row_count == corpus["row_count"] == len(lines) - 1
    rows = [0, 1, array.row_count - 1] + [c.first_row for c in array.chunks]
    for row, record in zip(rows, reader.records(array, rows)):
        assert record == lines[row]
        (doc,) = reader.query("SELECT * FROM document WHERE corpus_id = ? AND row = ?", corpus["id"], row)
        parsed = json.loads(record)
        assert doc["external_id"] == str(parsed["id"])
        assert doc["content_hash"] == hashlib.sha256(parsed["text"].encode()).digest()[:16]
        assert doc["byte_length"] == len(record)
        assert doc["source"] == f"corpus.jsonl:{row + 1}"


def test_the_bitmap_marks_the_usable_rows(built):
    reader = built.reader
    row = column_row(built, "embm")
    bits = reader.bitmap(reader.array(row["mask_array_id"]))
    expected = np.ones(row["row_count"], dtype=bool)
    expected[::97] = False
    assert np.array_equal(bits, expected) and row["usable_rows"] == expected.sum()
    values = reader.vectors(reader.array(row["array_id"]))
    assert not values[~expected].any()


# MARK: - Hashes


def test_every_array_content_hash_recomputes(built):
    reader = built.reader
    arrays = [reader.array(i) for (i,) in reader.query("SELECT id FROM array")]
    assert {a.dtype for a in arrays} == {"records", "f16", "f32", "bf16", "i8", "i4", "bitmap", "members"}
    for array in arrays:
        assert reader.array_content_hash(array) == array.content_hash
        assert sum(c.row_count for c in array.chunks) == array.row_count
        assert [c.first_row for c in array.chunks] == list(np.cumsum([0] + [c.row_count for c in array.chunks])[:-1])


def resolved_budget(spec: str, rows: int) -> int:
    if spec.endswith("%"):
        return max(1, min(rows, math.floor(float(spec[:-1]) * rows / 100 * (1 + 1e-12))))
    return min(int(spec), rows)


def lineage_lines(reader: CatalogReader, subset) -> List[str]:
    """The lineage lines of a recipe, in the order FORMAT.md section 10.6 gives, each input's hash
    recomputed from the arrays rather than copied from subset_input."""
    inputs = reader.query("SELECT * FROM subset_input WHERE subset_id = ?", subset["id"])
    by_role: Dict[str, List] = {}
    for i in inputs:
        by_role.setdefault(i["role"], []).append(i)

    def pool_hash(i):
        (c,) = reader.query("SELECT array_id, mask_array_id FROM feature_column WHERE corpus_id = ? AND name = ? AND checkpoint = ?",
                            subset["corpus_id"], i["column_name"], i["checkpoint"])
        return reader.column_content_hash(c["array_id"], c["mask_array_id"])

    def target_hash(i):
        (c,) = reader.query("SELECT array_id FROM target_column WHERE target_id = ? AND name = ? AND checkpoint = ?",
                            subset["target_id"], i["column_name"], i["checkpoint"])
        return reader.array(c["array_id"]).content_hash

    def line(i, content_hash):
        assert content_hash == i["content_hash"], (i["role"], i["column_name"])
        return f"{i['role']} {i['column_name']} {i['checkpoint']} {content_hash}"

    guard = [line(i, pool_hash(i)) for i in by_role.get("dedup", [])]
    out = []
    if subset["selector"] == "rds":
        return [line(by_role["embedding"][0], pool_hash(by_role["embedding"][0])),
                line(by_role["target embedding"][0], target_hash(by_role["target embedding"][0]))] + guard
    targets = {i["checkpoint"]: i for i in by_role.get("target gradient", [])}
    for i in sorted(by_role.get("pool gradient", []), key=lambda i: i["checkpoint"]):
        out.append(line(i, pool_hash(i)))
        if i["checkpoint"] in targets:
            out.append(line(targets[i["checkpoint"]], target_hash(targets[i["checkpoint"]])))
    for i in by_role.get("target subtasks", []):
        labels = [r[0] for r in reader.query("SELECT subtask FROM target_row WHERE target_id = ? ORDER BY row", subset["target_id"])]
        out.append(line(i, hashlib.sha256("\n".join(labels).encode()).hexdigest()))
    for i in by_role.get("embedding", []):
        out.append(line(i, pool_hash(i)))
    return out + guard


def parents(reader: CatalogReader, subset) -> List:
    return reader.query("SELECT * FROM subset_parent WHERE subset_id = ? ORDER BY seq", subset["id"])


def query_lines(reader: CatalogReader, subset) -> List[str]:
    """The extra lines of section 10.6, from query_json and subset_parent."""
    if subset["query_json"] is None:
        return []
    query = json.loads(subset["query_json"])
    out = [f"where {query['predicate']}"] if "predicate" in query else []
    out += [f"within {p['content_hash']}" for p in parents(reader, subset) if p["role"] == "within"]
    out += sorted(f"exclude {p['content_hash']}" for p in parents(reader, subset) if p["role"] == "exclude")
    if "excludeIDs" in query:
        out.append(f"exclude-ids {query['excludeIDs']['idsHash']}")
    if "dedup" in query:
        out.append(f"dedup-cosine {float(query['dedup']['cosine'])!r}")
    return out


def algebra_recipe(reader: CatalogReader, subset) -> str:
    """The recipes of `combine` and `mix` (section 10.6)."""
    found = parents(reader, subset)
    params = json.loads(subset["params_json"])
    if subset["selector"] == "combine":
        operators = params["expression"].split()[1::2]
        text = f"quadcat-recipe-v1\ncombine 1\n{found[0]['content_hash']}"
        text += "".join(f" {op} {p['content_hash']}" for op, p in zip(operators, found[1:]))
    else:
        text = f"quadcat-recipe-v1\nmix 1\nbudget {subset['budget']}\n"
        text += "".join(f"part {p['content_hash']} {p['share']!r}\n" for p in found)
    return hashlib.sha256(text.encode()).hexdigest()


def test_queries_are_recorded_as_documented(built):
    """The query subset: candidates, parents, the guard's lineage, the budget of the candidates."""
    reader = built.reader
    (subset,) = reader.query("SELECT * FROM subset WHERE name = 'query'")
    query = json.loads(subset["query_json"])
    assert query["budgetBasis"] == "candidates" and subset["budget"] == resolved_budget("10%", query["candidates"])
    assert query["excludeIDs"]["ids"] == 36 and query["excludeIDs"]["matched"] == 35
    ids = sorted(set((built.path.parent / "ids.txt").read_text().split("\n")) - {""})
    assert query["excludeIDs"]["idsHash"] == hashlib.sha256("\n".join(ids).encode()).hexdigest()
    assert [(p["role"], p["share"]) for p in parents(reader, subset)] == [("within", None), ("exclude", None), ("exclude", None)]
    for p in parents(reader, subset):
        (row,) = reader.query("SELECT content_hash FROM subset WHERE id = ?", p["parent_id"])
        assert p["content_hash"] == row["content_hash"]
    (dedup,) = reader.query("SELECT * FROM subset_input WHERE subset_id = ? AND role = 'dedup'", subset["id"])
    assert (dedup["column_name"], query["dedup"]["cosine"]) == ("emb", 0.95)
    # Every member is a candidate: within less@1, none of rds8's or rand's rows, none of the ids.
    members = {m[0] for m in reader.members(reader.array(subset["members_array_id"]))}
    def rows_of(name):
        (s,) = reader.query("SELECT members_array_id FROM subset WHERE name = ? AND version = 1", name)
        return {m[0] for m in reader.members(reader.array(s["members_array_id"]))}
    assert members <= rows_of("less") and not members & (rows_of("rds8") | rows_of("rand"))
    (field,) = reader.query("SELECT * FROM indexed_field WHERE name = 'domain'")
    assert field["text_values"] == reader.query("SELECT row_count FROM corpus")[0]["row_count"]
    (metric,) = reader.query("SELECT * FROM subset_metric")
    assert (metric["key"], metric["value"], metric["note"]) == ("target_nll", 3.866, "format test")


def test_subset_content_and_recipe_hashes_recompute(built):
    reader = built.reader
    subsets = reader.query("SELECT * FROM subset ORDER BY id")
    assert [(s["name"], s["version"]) for s in subsets] == [
        ("less", 1), ("rds8", 1), ("rdsm", 1), ("rand", 1), ("less", 2), ("query", 1), ("combined", 1), ("mixed", 1)]
    for subset in subsets:
        shown = built.show(f"{subset['name']}@{subset['version']}")
        assert reader.subset_content_hash(subset["members_array_id"]) == subset["content_hash"] == shown["contentHash"]
        if subset["selector"] in ("combine", "mix"):
            assert algebra_recipe(reader, subset) == subset["recipe_hash"] == shown["recipeHash"], subset["name"]
            continue

        (corpus,) = reader.query("SELECT row_count, records_array_id FROM corpus WHERE id = ?", subset["corpus_id"])
        spec, rows = subset["budget_spec"], corpus["row_count"]
        if spec.endswith("-of-candidates"):
            spec, rows = spec[:-len("-of-candidates")], json.loads(subset["query_json"])["candidates"]
        budget = resolved_budget(spec, rows)
        assert budget == subset["budget"]
        records_hash = reader.array_content_hash(reader.array(corpus["records_array_id"]))
        text = "".join(line + "\n" for line in [
            "quadcat-recipe-v1",
            f"{subset['selector']} {subset['selector_version']}",
            subset["params_json"],
            f"seed {subset['seed'] % 2**64}",
            f"budget {budget}",
            f"corpus {records_hash}",
            *lineage_lines(reader, subset),
            *query_lines(reader, subset),
        ])
        assert hashlib.sha256(text.encode()).hexdigest() == subset["recipe_hash"] == shown["recipeHash"], subset["name"]
        # The parameters are canonical JSON: keys sorted, no insignificant whitespace.
        keys = list(json.loads(subset["params_json"]))
        assert keys == sorted(keys) and ": " not in subset["params_json"] and ", " not in subset["params_json"]
    (rand,) = [s for s in subsets if s["name"] == "rand"]
    assert rand["seed"] < 0 and rand["seed"] % 2**64 == 2**64 - 5
