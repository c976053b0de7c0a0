"""Parquet shards go in without a conversion step on disk: record batches streamed to `quadcat ingest -`."""
import json

import numpy as np
import pytest

import quadcat

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (HF datasets brings it)")
import pyarrow.parquet as pq  # noqa: E402


def test_parquet_round_trips_to_the_records_the_jsonl_export_gives_back(tmp_path):
    rows = 5000
    ids = [f"fw-{i:06d}" for i in range(rows)]
    texts = [f"document {i} ✓ " + "lorem ipsum " * (i % 7) for i in range(rows)]
    table = pa.table({
        "uid": ids, "content": texts, "lang": [["en", "de", "fr"][i % 3] for i in range(rows)],
        "score": [float(i) / 7 for i in range(rows)], "tokens": list(range(rows)),
        "meta": [None if i % 5 else {"url": f"https://example.org/{i}"} for i in range(rows)],
    })
    # Two files, several row groups each: read in order, batch by batch.
    pq.write_table(table.slice(0, 3000), tmp_path / "part-0.parquet", row_group_size=700)
    pq.write_table(table.slice(3000), tmp_path / "part-1.parquet", row_group_size=700)
    cat = quadcat.Catalog(tmp_path / "cat.quadcat").create()
    report = cat.ingest_parquet([tmp_path / "part-0.parquet", tmp_path / "part-1.parquet"], corpus="web",
                                id_column="uid", text_column="content", batch_size=512)
    assert report.rows_added == rows
    cat.attach(np.ones((rows, 4), dtype=np.float32), corpus="web", column="emb")
    subset = cat.select(corpus="web", selector="random", budget=rows, name="all")
    exported = {r["uid"]: r for r in subset.records()}
    assert len(exported) == rows
    for row in table.to_pylist():
        assert exported[row["uid"]] == json.loads(json.dumps(row))


def test_a_bad_parquet_row_leaves_the_catalog_as_it_was(tmp_path):
    table = pa.table({"id": ["a", "b", "a"], "text": ["x", "y", "z"]})
    pq.write_table(table, tmp_path / "dup.parquet")
    cat = quadcat.Catalog(tmp_path / "cat.quadcat").create()
    with pytest.raises(quadcat.QuadcatError, match="duplicate"):
        cat.ingest_parquet(tmp_path / "dup.parquet", corpus="web")
    assert cat.info().corpora == []
