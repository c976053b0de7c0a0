"""quadcat.Catalog against the real binary, on the files `quadcat demo` generates."""
import json

import numpy as np
import pytest

import quadcat
from conftest import Demo, column, gaussian, run_cli


def test_every_catalog_method_builds_selects_and_reports_on_the_demo_files(tmp_path, demo: Demo):
    cat = quadcat.Catalog(tmp_path / "cat.quadcat")
    assert cat.create() is cat
    empty = cat.info()
    assert empty.corpora == [] and empty.subsets == 0 and empty.path.endswith("cat.quadcat")

    ingest = cat.ingest(demo.data / "corpus.jsonl", corpus="pool")
    assert (ingest.corpus, ingest.rows_added, ingest.total_rows) == ("pool", demo.rows, demo.rows)
    assert ingest.bytes_read == (demo.data / "corpus.jsonl").stat().st_size
    assert ingest.duplicate_text_rows > 0  # the demo plants duplicates; they are kept and reported

    for c, lr in enumerate(demo.learning_rates, start=1):
        report = cat.attach(demo.data / f"grads_ckpt{c}.npy", corpus="pool", column="grad", checkpoint=c, lr=lr,
                            projection="rademacher:7:512")
        assert (report.kind, report.checkpoint, report.rows, report.dim) == ("gradient", c, demo.rows, 512)
    embedding = cat.attach(demo.data / "emb.npy", corpus="pool", column="emb", precision="f16")
    assert (embedding.kind, embedding.stored_dtype) == ("embedding", "f16")
    for c in range(1, 5):
        target = cat.add_target("python", demo.data / f"val_grads_ckpt{c}.npy", checkpoint=c, projection="rademacher:7:512",
                                subtasks=demo.data / "val_subtasks.txt" if c == 1 else None)
        assert target.created_target == (c == 1) and target.checkpoint == c
    (python,) = cat.targets()
    assert python.name == "python" and python.subtasks == 2 and [t.checkpoint for t in python.columns] == [1, 2, 3, 4]

    info = cat.info()
    pool = info.corpus("pool")
    assert pool.rows == demo.rows
    assert [(c.name, c.checkpoint) for c in pool.columns] == [("emb", 0)] + [("grad", c) for c in range(1, 5)]
    assert [c.learning_rate for c in pool.columns[1:]] == demo.learning_rates
    assert {c.projection for c in pool.columns[1:]} == {"rademacher:7:512"}

    less = cat.select(corpus="pool", target="python", selector="less", budget="5%", name="py-less")
    assert isinstance(less, quadcat.Subset) and less.reference == "py-less@1" and len(less) == demo.rows // 20
    again = cat.select(corpus="pool", target="python", selector="less", budget="5%", name="py-less")
    assert again.version == 2 and again.recipe_hash == less.recipe_hash and again.content_hash == less.content_hash
    gtp = cat.select(corpus="pool", target="python", selector="gtp", budget=60, name="py-gtp", params={"groups": 8}, seed=3)
    assert gtp.parameters["groups"] == 8 and gtp.lineage.seed == 3 and len(gtp) <= 60
    assert {(i.role, i.column, i.checkpoint) for i in gtp.lineage.inputs} >= {("pool gradient", "grad", 4), ("target gradient", "grad", 1)}
    spice = cat.select(corpus="pool", selector="spice", budget=50, name="py-spice", checkpoints=[4])
    assert spice.info.target is None and len(spice) == 50

    assert [s.reference for s in cat.subsets()] == ["py-gtp@1", "py-less@2", "py-spice@1"]
    assert [s.version for s in cat.log("py-less")] == [1, 2]
    assert cat.subset("py-less@1").content_hash == less.content_hash
    tagged = cat.tag("py-less@1", "paper-v1")
    assert tagged.reference == "py-less@1" and "paper-v1" in tagged.info.tags
    assert cat.subset("paper-v1").reference == "py-less@1"

    report = cat.compare(less, "py-gtp", "py-spice", label="domain")
    assert [e.subset for e in report.entries] == ["py-less@1", "py-gtp@1", "py-spice@1"]
    assert report.entry("py-less").mean_less_score > report.entry("py-spice").mean_less_score
    assert sum(report.corpus_labels.values()) == demo.rows and len(report.overlaps) == 3
    page = cat.report(less, "py-gtp", out=tmp_path / "report.html", label="domain")
    html = (tmp_path / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "py-gtp@1" in html
    assert page["bytes"] == len(html.encode()) and page["subsets"] == 2 and page["charts"]["overlap-heatmap"] == 1
    diff = cat.diff("py-less@1", "py-gtp")
    assert diff.shared + len(diff.only_a) == len(less)

    verified = cat.verify()
    assert verified.healthy and verified.chunks_checked > 0
    assert cat.gc(dry_run=True).removed_files == []


def test_selection_through_python_equals_the_cli(demo: Demo, tmp_path):
    """The same request through Python and through the binary gives the same recipe and members."""
    subset = demo.catalog.select(corpus="pool", target="python", selector="less", budget=40, name="py-vs-cli")
    result = run_cli("select", demo.catalog.path, "--corpus", "pool", "--target", "python", "--selector", "less",
                     "--budget", "40", "--as", "py-vs-cli", "--json")
    cli = json.loads(result.stdout)
    assert (cli["version"], cli["recipeHash"], cli["contentHash"]) == (2, subset.recipe_hash, subset.content_hash)


def test_attach_takes_arrays_id_lists_and_projectors(small_catalog, tmp_path):
    grads = gaussian(300, 24, seed=1, dtype=np.float16)
    projector = quadcat.features.RademacherProjector(seed=11, n_params=1000, dim=24)
    report = small_catalog.attach(grads, corpus="pool", column="grad", checkpoint=1, lr=1e-5, projection=projector)
    assert (report.rows, report.dim, report.source_dtype) == (300, 24, "f16")
    assert column(small_catalog, "pool", "grad", 1).projection == "quadcat-rademacher:11:24"

    partial = small_catalog.attach(gaussian(3, 8, seed=2), corpus="pool", column="emb", ids=["doc-5", "doc-0", "doc-299"])
    assert (partial.rows, partial.usable_rows) == (300, 3)
    with pytest.raises(TypeError, match="float16 or float32"):
        small_catalog.attach(np.zeros((300, 4), dtype=np.float64), corpus="pool", column="e64")


class TestErrors:
    """Bad input raises QuadcatError carrying the tool's own words and exit status."""

    def test_a_missing_catalog(self, tmp_path):
        with pytest.raises(quadcat.QuadcatError) as caught:
            quadcat.Catalog(tmp_path / "nowhere.quadcat").info()
        assert caught.value.status == 1
        assert "is not a quadcat catalog" in caught.value.message and "quadcat init" in caught.value.message
        assert caught.value.command[:2] == ["info", str(tmp_path / "nowhere.quadcat")]

    def test_an_unknown_subset(self, demo: Demo):
        with pytest.raises(quadcat.QuadcatError, match="no subset or tag named 'nope'") as caught:
            demo.catalog.subset("nope")
        assert "demo-gtp" in caught.value.message  # names the subsets that exist
        with pytest.raises(quadcat.QuadcatError, match="no version 9 of subset 'demo-gtp'"):
            demo.catalog.subset("demo-gtp@9")

    @pytest.mark.parametrize("budget", [0, "0%", "101%", "lots"])
    def test_a_bad_budget(self, demo: Demo, budget):
        with pytest.raises(quadcat.QuadcatError, match=f"budget '{budget}' is neither a positive row count nor a percentage"):
            demo.catalog.select(corpus="pool", target="python", selector="less", budget=budget, name="never")
        assert "never" not in [s.name for s in demo.catalog.subsets()]

    def test_usage_errors_keep_the_argument_parsers_words(self, demo: Demo):
        with pytest.raises(quadcat.QuadcatError) as caught:
            demo.catalog.select(corpus="pool", target="python", selector="magic", budget=10, name="never")
        assert caught.value.status == 64 and "magic" in caught.value.message

    def test_an_unknown_parameter_and_a_missing_file(self, demo: Demo, tmp_path):
        with pytest.raises(quadcat.QuadcatError, match="colour"):
            demo.catalog.select(corpus="pool", target="python", selector="gtp", budget=10, name="never", params={"colour": 1})
        with pytest.raises(quadcat.QuadcatError, match="missing.jsonl"):
            quadcat.Catalog(tmp_path / "c.quadcat").create().ingest(tmp_path / "missing.jsonl", corpus="pool")

    def test_create_refuses_an_existing_catalog(self, demo: Demo):
        with pytest.raises(quadcat.QuadcatError, match="already a quadcat catalog"):
            demo.catalog.create()


def test_errors_pickle_with_their_fields(tmp_path):
    import pickle
    with pytest.raises(quadcat.QuadcatError) as caught:
        quadcat.Catalog(tmp_path / "none.quadcat").verify()
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.message, copy.status, copy.command, copy.stderr) == (caught.value.message, 1, caught.value.command, caught.value.stderr)
