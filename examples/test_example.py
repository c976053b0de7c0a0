"""The end-to-end example at its test size (``less_pipeline.py --quick``): every stage runs on real text,
every selector's subset gets a finite held-out loss, and the losses are recorded in the catalog.
Skipped when ../shared/realbench is absent."""
import importlib.util
import json
import math
import os
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent / "less_pipeline.py"
REALBENCH = Path(__file__).resolve().parents[1].parent / "shared" / "realbench"
SELECTORS = ["full pool", "random", "LESS", "LESS --dedup", "GTP", "DPP", "Quad", "Quad (K-FAC)"]

pytestmark = pytest.mark.skipif(not (REALBENCH / "corpus.jsonl").is_file(), reason=f"{REALBENCH} is absent")


def load_example():
    spec = importlib.util.spec_from_file_location("less_pipeline", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_example(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    pytest.importorskip("tokenizers")
    import quadcat
    work = tmp_path / "example"
    summary = load_example().main(["--quick", "--work", os.fspath(work), "--data", os.fspath(REALBENCH), "--device", "cpu"])

    # the target's split: by page, no page on both sides
    val = [json.loads(line) for line in open(work / "target_validation.jsonl")]
    test = [json.loads(line) for line in open(work / "target_test.jsonl")]
    assert val and test and not ({r["source"] for r in val} & {r["source"] for r in test})

    # every selector has a finite loss; the table names each
    selectors = summary["evaluation"]["selectors"]
    assert list(selectors) == SELECTORS
    table = (work / "results.md").read_text()
    for label in SELECTORS:
        assert f"| {label} |" in table
        assert all(math.isfinite(x) for x in selectors[label]["losses"]) and selectors[label]["losses"]
    assert math.isfinite(summary["evaluation"]["base_loss"])
    assert (work / "results.svg").read_text().startswith("<svg")
    assert (work / "report.html").stat().st_size > 0

    # the losses are in the catalog, and compare --sort ranks by them
    cat = quadcat.Catalog(work / "cat.quadcat")
    for label in SELECTORS:
        for reference in selectors[label]["subsets"]:
            metrics = cat.subset(reference).metrics
            assert math.isfinite(metrics["target_loss"])
    ranked = cat.compare(*summary["ranking"], sort="target_loss")
    losses = [cat.subset(e.subset).metrics["target_loss"] for e in ranked.entries]
    assert losses == sorted(losses)

    # a rerun in the same WORK reuses every stage and gives the same losses
    again = load_example().main(["--quick", "--work", os.fspath(work), "--data", os.fspath(REALBENCH), "--device", "cpu"])
    assert again["evaluation"]["selectors"]["LESS"]["losses"] == selectors["LESS"]["losses"]
