"""Subset's arrays, ids and records equal what `quadcat export` writes for the same subset."""
import json

import numpy as np
import pytest

import quadcat
from conftest import Demo, run_cli

SUBSETS = ["demo-less", "demo-gtp", "demo-spice", "demo-quad", "demo-random"]


@pytest.mark.parametrize("name", SUBSETS)
def test_rows_scores_weights_and_ids_equal_the_cli_exports(demo: Demo, tmp_path, name):
    subset = demo.catalog.subset(name)
    run_cli("export", demo.catalog.path, name, "--format", "npy", "--out", tmp_path / "m.npy",
            "--score-field", "s", "--weight-field", "w")
    run_cli("export", demo.catalog.path, name, "--format", "ids", "--out", tmp_path / "m.ids")

    assert subset.rows.dtype == np.int64 and np.array_equal(subset.rows, np.load(tmp_path / "m.npy"))
    assert np.array_equal(subset.scores, np.load(tmp_path / "m.s.npy"))
    assert np.array_equal(subset.weights, np.load(tmp_path / "m.w.npy"))
    assert subset.ids == (tmp_path / "m.ids").read_text(encoding="utf-8").splitlines()
    assert len(subset.rows) == len(subset) == len(subset.ids) > 0
    if name == "demo-gtp":
        assert (subset.weights > 0).all() and not np.allclose(subset.weights, 1)
    else:
        assert (subset.weights == 1).all()


def test_rows_point_at_the_records_of_the_ids(demo: Demo):
    """Row r of the corpus is line r of the ingested file: the ids and records agree with the rows."""
    lines = demo.lines()
    subset = demo.catalog.subset("demo-less")
    records = list(subset.records())
    assert [json.loads(lines[r])["id"] for r in subset.rows] == subset.ids == [str(r["id"]) for r in records]


def test_records_hf_dataset_and_pandas_equal_the_jsonl_export(demo: Demo, tmp_path):
    datasets = pytest.importorskip("datasets", reason="Hugging Face datasets is not installed")
    subset = demo.catalog.subset("demo-gtp")
    run_cli("export", demo.catalog.path, "demo-gtp", "--format", "jsonl", "--out", tmp_path / "train.jsonl")
    exported_lines = (tmp_path / "train.jsonl").read_bytes().splitlines()
    exported = [json.loads(line) for line in exported_lines]
    corpus = demo.lines()
    assert exported_lines == [corpus[r] for r in subset.rows]  # the export is the ingested bytes

    assert list(subset.records()) == exported
    dataset = subset.to_hf_dataset(cache_dir=str(tmp_path / "hf"))
    assert isinstance(dataset, datasets.Dataset) and dataset.num_rows == len(exported)
    assert [dataset[i] for i in range(dataset.num_rows)] == exported
    again = subset.to_hf_dataset(cache_dir=str(tmp_path / "hf"))
    assert again.cache_files and again.cache_files == dataset.cache_files  # one conversion per version

    pandas = pytest.importorskip("pandas", reason="pandas is not installed")
    frame = subset.to_pandas()
    assert isinstance(frame, pandas.DataFrame) and list(frame["id"]) == [r["id"] for r in exported]
    assert frame.astype(object).where(frame.notna(), None).to_dict("records") == exported  # JSON null is NaN in pandas


def test_records_stream_and_stop_early(demo: Demo):
    records = demo.catalog.subset("demo-random").records()
    first = next(records)
    records.close()  # ends the export process
    assert first == json.loads(demo.lines()[demo.catalog.subset("demo-random").rows[0]])


def test_export_writes_each_format_and_reports_it(demo: Demo, tmp_path):
    subset = demo.catalog.subset("demo-gtp")
    report = subset.export(tmp_path / "train.jsonl", weight_field="weight")
    assert (report.subset, report.format, report.rows) == (subset.reference, "jsonl", len(subset))
    weights = [json.loads(line)["weight"] for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert np.allclose(weights, subset.weights, rtol=1e-6)
    npy = subset.export(tmp_path / "rows.npy", format="npy")
    assert npy.format == "npy" and np.array_equal(np.load(tmp_path / "rows.npy"), subset.rows)
    mds = subset.export(tmp_path / "mds", format="mds")
    assert mds.rows == len(subset) and (tmp_path / "mds" / "index.json").exists()
    with pytest.raises(quadcat.QuadcatError, match="already taken"):
        subset.export(tmp_path / "x.jsonl", score_field="text")


def test_lineage_and_repr(demo: Demo):
    subset = demo.catalog.subset("demo-quad@1")
    lineage = subset.lineage
    assert lineage.subset == "demo-quad@1" and lineage.selector == "quad" and lineage.target == "python"
    assert lineage.recipe_hash == subset.recipe_hash and len(lineage.recipe_hash) == 64
    assert {i.column for i in lineage.inputs} == {"grad", "emb"}
    assert lineage.parameters == subset.parameters and lineage.parameters["tauQuantile"] == 0.8
    assert repr(subset).startswith("<Subset demo-quad@1:")
