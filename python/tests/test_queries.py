"""Queries through the package: indexed fields, where/within/exclude/exclude_ids/dedup, combine, mix and
metrics, checked against the records and plain set arithmetic in Python."""
import json

import numpy as np
import pytest

import quadcat
from conftest import gaussian


@pytest.fixture
def catalog(tmp_path) -> quadcat.Catalog:
    """240 records with a domain (sometimes missing), a token count (sometimes null), gradients at two
    checkpoints, embeddings in which every tenth row from row 10 nearly copies the row before it, a target."""
    rng = np.random.default_rng(5)
    with open(tmp_path / "pool.jsonl", "w", encoding="utf-8") as file:
        for i in range(240):
            record = {"id": f"doc-{i}", "text": f"document {i}", "n_tokens": int(rng.integers(0, 300))}
            if i % 9:
                record["domain"] = ["web", "code", "bible"][i % 3]
            if i % 11 == 0:
                record["n_tokens"] = None
            file.write(json.dumps(record) + "\n")
    cat = quadcat.Catalog(tmp_path / "q.quadcat").create()
    report = cat.ingest(tmp_path / "pool.jsonl", corpus="pool", index_fields=["domain"])
    assert [f.name for f in report.indexed_fields] == ["domain"]
    for c in (1, 2):
        cat.attach(gaussian(240, 16, seed=c), corpus="pool", column="grad", checkpoint=c, lr=1e-5 * c)
        cat.add_target("val", gaussian(8, 16, seed=10 + c), checkpoint=c)
    emb = gaussian(240, 12, seed=3)
    emb[10::10] = emb[9::10][: len(emb[10::10])] + 0.01 * gaussian(len(emb[10::10]), 12, seed=4)
    cat.attach(emb, corpus="pool", column="emb")
    np.save(tmp_path / "emb.npy", emb)
    return cat


def records(path):
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file]


def test_index_and_where_match_the_records(catalog, tmp_path):
    index = catalog.index("pool", ["n_tokens", "domain"])
    assert index.added == ["n_tokens"] and index.already_indexed == ["domain"]
    fields = {f.name: f for f in catalog.info().corpus("pool").fields}
    assert fields["domain"].type == "text" and fields["domain"].null_values == len(range(0, 240, 9))
    assert fields["n_tokens"].type == "integer" and fields["n_tokens"].null_values == len(range(0, 240, 11))

    rows = records(tmp_path / "pool.jsonl")
    expected = [i for i, r in enumerate(rows) if r.get("domain") not in (None, "bible") and (r["n_tokens"] or -1) >= 64]
    subset = catalog.select(corpus="pool", selector="random", budget="100%-of-candidates", name="all",
                            where="domain != 'bible' and n_tokens >= 64")
    assert sorted(subset.rows.tolist()) == expected
    assert subset.lineage.query.predicate == "domain != 'bible' AND n_tokens >= 64" and subset.lineage.query.candidates == len(expected)

    with pytest.raises(quadcat.QuadcatError, match=r"--where position 13: unexpected ';'"):
        catalog.select(corpus="pool", selector="random", budget=5, name="never", where="domain = 'x'; DROP TABLE subset")
    with pytest.raises(quadcat.QuadcatError, match=r"'lang' is not an indexed field; indexed: domain \(text\), n_tokens \(integer\)"):
        catalog.select(corpus="pool", selector="random", budget=5, name="never", where="lang = 'en'")
    assert "never" not in [s.name for s in catalog.subsets()]


def test_within_exclude_and_exclude_ids_are_set_arithmetic(catalog):
    full = catalog.select(corpus="pool", target="val", selector="less", budget=240, name="full").rows.tolist()
    within = catalog.select(corpus="pool", selector="random", budget=120, name="w", seed=2)
    top = catalog.select(corpus="pool", target="val", selector="less", budget=20, name="top")
    ids = [f"doc-{i}" for i in range(0, 240, 7)]
    picked = catalog.select(corpus="pool", target="val", selector="less", budget=30, name="picked", within=within,
                            exclude=[top], exclude_ids=ids)
    inside, excluded = set(within.rows.tolist()), set(top.rows.tolist()) | set(range(0, 240, 7))
    assert picked.rows.tolist() == [r for r in full if r in inside and r not in excluded][:30]
    assert [(p.role, p.subset) for p in picked.lineage.parents] == [("within", "w@1"), ("exclude", "top@1")]
    assert picked.lineage.query.exclude_ids.matched == len(ids)


def test_dedup_leaves_no_pair_at_the_threshold(catalog, tmp_path):
    emb = np.load(tmp_path / "emb.npy").astype(np.float64)
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    plain = catalog.select(corpus="pool", selector="random", budget=200, name="plain")
    guarded = catalog.select(corpus="pool", selector="random", budget=200, name="guarded", dedup=("emb", 0.95))
    def closest(rows):
        block = unit[rows] @ unit[rows].T
        np.fill_diagonal(block, -1)
        return block.max()
    assert closest(plain.rows) >= 0.95 and closest(guarded.rows) < 0.95
    assert guarded.lineage.query.dedup.refused > 0 and guarded.lineage.query.dedup.column == "emb"
    assert guarded.recipe_hash != plain.recipe_hash


def test_combine_mix_and_metrics(catalog):
    a = catalog.select(corpus="pool", target="val", selector="less", budget=30, name="a")
    b = catalog.select(corpus="pool", selector="random", budget=40, name="b", seed=1)
    ra, rb = a.rows.tolist(), b.rows.tolist()
    union = catalog.combine("a + b", name="u")
    assert union.rows.tolist() == ra + [r for r in rb if r not in ra]
    assert catalog.combine("a & b", name="i").rows.tolist() == [r for r in ra if r in rb]
    assert catalog.combine("b - a", name="d").rows.tolist() == [r for r in rb if r not in ra]
    assert [(p.role, p.subset) for p in union.lineage.parents] == [("operand", "a@1"), ("operand", "b@1")]

    mixed = catalog.mix({a: 0.6, "b": "40%"}, budget=20, name="m")
    assert mixed.rows.tolist()[:12] == ra[:12] and len(set(mixed.rows.tolist())) == 20
    assert [p.share for p in mixed.lineage.parents] == [0.6, 0.4]
    with pytest.raises(quadcat.QuadcatError, match="add up to 90%"):
        catalog.mix({"a": 0.5, "b": 0.4}, budget=20, name="never")

    recorded = catalog.metric(mixed, target_nll=3.866, note="3 seeds")
    assert recorded.metrics == {"target_nll": 3.866} and recorded.info.metrics[0].note == "3 seeds"
    catalog.metric("a", {"target_nll": 3.9, "eval/acc": 0.5})
    assert catalog.subset("a").metrics == {"eval/acc": 0.5, "target_nll": 3.9}
    report = catalog.compare("a", "b", "m", sort="target_nll")
    assert [e.subset for e in report.entries] == ["m@1", "a@1", "b@1"] and report.sorted_by == "target_nll"
    assert report.entry("a").metrics == {"eval/acc": 0.5, "target_nll": 3.9}
    with pytest.raises(quadcat.QuadcatError, match="not a finite number"):
        catalog.metric("a", loss=float("nan"))
