"""Shard sets built by the engine (``quadcat.ray.build``) on a real local Ray (``ray.init(num_cpus=2)``)
and on local processes: the set equals one built by hand, shard by shard, with the ordinary commands
(the same records and column content hashes); a task killed half way is retried and changes nothing;
a finished shard is never built again; bad inputs are refused naming the file."""
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import quadcat
from quadcat import ShardSet
from quadcat.build import discover

from conftest import Demo, worker_killer

ray = pytest.importorskip("ray", reason="Ray is not installed (make test installs it: pip install './python[ray]')")
import quadcat.ray as quadcat_ray  # noqa: E402

CUTS = [0, 450, 1300, 2000]
PROJECTION = "rademacher:7:512"
LEARNING_RATES = {1: Demo.learning_rates[0], 2: Demo.learning_rates[1]}
SAMPLE = 5  # grad@2 is given for every fifth row only, with an ids file


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, object_store_memory=150 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def lay_out(demo: Demo, directory: Path, documents: str) -> Path:
    """The demo corpus as three document shards (``documents``: ``jsonl`` — plain, gzip and plain — or
    ``parquet``) with their emb, grad@1 and sampled grad@2 files, and the target's files."""
    directory.mkdir()
    lines = demo.lines()
    emb, grad1, grad2 = (np.load(demo.data / name) for name in ("emb.npy", "grads_ckpt1.npy", "grads_ckpt2.npy"))
    for i, (a, b) in enumerate(zip(CUTS, CUTS[1:])):
        stem = f"shard-{i:05d}"
        if documents == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq
            pq.write_table(pa.Table.from_pylist([json.loads(line) for line in lines[a:b]]), directory / f"{stem}.parquet",
                           row_group_size=200)
        elif i == 1:
            (directory / f"{stem}.jsonl.gz").write_bytes(gzip.compress(b"\n".join(lines[a:b]) + b"\n"))
        else:
            (directory / f"{stem}.jsonl").write_bytes(b"\n".join(lines[a:b]) + b"\n")
        np.save(directory / f"{stem}.emb.npy", emb[a:b])
        np.save(directory / f"{stem}.grad@1.npy", grad1[a:b])
        sample = [r for r in range(a, b) if r % SAMPLE == 0]
        np.save(directory / f"{stem}.grad@2.npy", grad2[sample])
        (directory / f"{stem}.grad@2.ids").write_text("".join(json.loads(lines[r])["id"] + "\n" for r in sample))
    targets = directory / "targets"
    targets.mkdir()
    for c in (1, 2):
        np.save(targets / f"python.grad@{c}.npy", np.load(demo.data / f"val_grads_ckpt{c}.npy"))
    np.save(targets / "python.emb.npy", np.load(demo.data / "val_emb.npy"))
    (targets / "python.subtasks.txt").write_bytes((demo.data / "val_subtasks.txt").read_bytes())
    return directory


def serial_build(inputs: Path, set_path: Path) -> ShardSet:
    """The same set built by hand, one shard after another, the way a user would."""
    found = discover(inputs)
    catalogs = []
    for shard in found.shards:
        cat = quadcat.Catalog(set_path.parent / f"{set_path.name}-{shard.stem}.quadcat").create()
        if shard.documents.endswith(".parquet"):
            cat.ingest_parquet(shard.documents, corpus="pool")
        else:
            cat.ingest(shard.documents, corpus="pool")
        cat.attach(inputs / f"{shard.stem}.emb.npy", corpus="pool", column="emb")
        cat.attach(inputs / f"{shard.stem}.grad@1.npy", corpus="pool", column="grad", checkpoint=1, lr=LEARNING_RATES[1],
                   projection=PROJECTION)
        cat.attach(inputs / f"{shard.stem}.grad@2.npy", corpus="pool", column="grad", checkpoint=2, lr=LEARNING_RATES[2],
                   projection=PROJECTION, ids=inputs / f"{shard.stem}.grad@2.ids")
        cat.add_target("python", inputs / "targets/python.emb.npy", column="emb",
                       subtasks=inputs / "targets/python.subtasks.txt")
        for c in (1, 2):
            cat.add_target("python", inputs / f"targets/python.grad@{c}.npy", checkpoint=c, projection=PROJECTION)
        catalogs.append(cat.path)
    result = ShardSet.create(set_path, corpus="pool")
    result.add(*catalogs)
    return result


def contents(shard_set: ShardSet):
    """What a set holds, by content hash (its manifest, set.json, less the shards' paths): each shard's
    rows, records hash and column hashes, the columns' shapes and the targets' column hashes."""
    manifest = json.loads((shard_set.path / "set.json").read_text())
    for shard in manifest["shards"]:
        del shard["path"]
    assert len(manifest["shards"]) == 3 and all(len(s["columnHashes"]) == 3 for s in manifest["shards"])
    return manifest


def build(set_path: Path, inputs: Path, **options):
    return quadcat_ray.build(set_path, inputs, learning_rates=LEARNING_RATES, projection=PROJECTION, **options)


@pytest.mark.parametrize("documents", ["jsonl", "parquet"])
def test_a_build_on_ray_equals_a_serial_build(local_ray, demo, tmp_path, documents):
    if documents == "parquet":
        pytest.importorskip("pyarrow", reason="pyarrow is not installed (HF datasets brings it)")
    inputs = lay_out(demo, tmp_path / "inputs", documents)
    report = build(tmp_path / "pool.set", inputs, shards=3)
    assert [r["rows"] for r in report["shards"]] == [450, 850, 700] and not any(r["skipped"] for r in report["shards"])
    assert report["verify"]["damage"] == [] and report["set"]["rows"] == Demo.rows
    built = ShardSet(tmp_path / "pool.set")
    assert [s["path"] for s in built.info()["shards"]] == [f"shards/shard-{i:05d}.quadcat" for i in range(3)]
    assert contents(built) == contents(serial_build(inputs, tmp_path / "serial.set"))
    # The built set selects like any other.
    assert [(c["name"], c["checkpoint"]) for c in built.info()["columns"]] == [("emb", 0), ("grad", 1), ("grad", 2)]
    subset = quadcat_ray.select(built.path, selector="less", target="python", budget=50, name="less", checkpoints=[1])
    assert len(subset.rows) == 50


def test_a_build_task_killed_half_way_is_retried_and_the_set_equals_a_serial_build(local_ray, demo, tmp_path):
    """Shard 1's first attempt announces its worker's pid once its documents are in and waits; the test
    kills that worker with SIGKILL; Ray retries the task, which removes the half-built catalog and builds
    the shard again."""
    inputs = lay_out(demo, tmp_path / "inputs", "jsonl")
    signals = tmp_path / "signals"
    signals.mkdir()

    def hook(shard, phase):
        if shard == 1 and phase == "ingested" and not (signals / "killed").exists():
            (signals / "pid").write_text(str(os.getpid()))
            time.sleep(60)

    def half_built():
        assert (tmp_path / "pool.set/shards/shard-00001.quadcat").is_dir()
        assert not (tmp_path / "pool.set/shards/shard-00001.done").exists()

    with worker_killer(signals, before_kill=half_built) as killed:
        report = build(tmp_path / "pool.set", inputs, hook=hook)
    assert killed, "the build task's worker was never killed"
    assert report["verify"]["damage"] == []
    assert contents(ShardSet(tmp_path / "pool.set")) == contents(serial_build(inputs, tmp_path / "serial.set"))


def test_a_finished_shard_is_never_built_again(demo, tmp_path):
    """A build that fails at shard 2 keeps shards 0 and 1; the rerun builds only shard 2, and a third run
    builds nothing."""
    inputs = lay_out(demo, tmp_path / "inputs", "jsonl")

    def fail(shard, phase):
        if shard == 2:
            raise RuntimeError("shard 2's machine went away")

    with pytest.raises(RuntimeError, match="went away"):
        build(tmp_path / "pool.set", inputs, engine="local", hook=fail)
    shards = tmp_path / "pool.set/shards"
    assert sorted(p.name for p in shards.glob("*.done")) == ["shard-00000.done", "shard-00001.done"]
    assert ShardSet(tmp_path / "pool.set").info()["shards"] == []
    # Chunk files are written once, when the shard is built (the SQLite file changes when sets read it).
    first = {p.name: p.stat().st_mtime_ns for p in (shards / "shard-00000.quadcat/chunks").rglob("*")}
    again = build(tmp_path / "pool.set", inputs, engine="local")
    assert [r["skipped"] for r in again["shards"]] == [True, True, False]
    assert {p.name: p.stat().st_mtime_ns for p in (shards / "shard-00000.quadcat/chunks").rglob("*")} == first
    third = build(tmp_path / "pool.set", inputs, engine="local", verify="quick")
    assert all(r["skipped"] for r in third["shards"]) and len(third["set"]["shards"]) == 3
    assert contents(ShardSet(tmp_path / "pool.set")) == contents(serial_build(inputs, tmp_path / "serial.set"))
    # A done shard whose inputs changed is refused, not silently kept.
    np.save(inputs / "shard-00000.emb.npy", np.load(inputs / "shard-00000.emb.npy")[:, :64])
    with pytest.raises(quadcat.QuadcatError, match="shard-00000.done: shard 'shard-00000' was built from other inputs"):
        build(tmp_path / "pool.set", inputs, engine="local")


def test_bad_inputs_are_refused_naming_the_file(demo, tmp_path):
    inputs = lay_out(demo, tmp_path / "inputs", "jsonl")
    target = tmp_path / "pool.set"

    def refused(words: str, **options):
        with pytest.raises(quadcat.QuadcatError) as error:
            build(target, inputs, engine="local", **options)
        assert words in str(error.value), str(error.value)

    refused("holds 3 document shards, not the 4 expected", shards=4)
    os.rename(inputs / "shard-00001.grad@1.npy", tmp_path / "moved.npy")
    refused(f"{inputs / 'shard-00001.grad@1'}.npy is missing")
    os.rename(tmp_path / "moved.npy", inputs / "shard-0001.grad@1.npy")
    refused(f"{inputs / 'shard-0001.grad@1.npy'} belongs to no shard")
    os.rename(inputs / "shard-0001.grad@1.npy", inputs / "shard-00001.grad@1.npy")
    os.remove(inputs / "shard-00002.grad@2.ids")
    refused(f"{inputs / 'shard-00002.grad@2'}.ids is missing")
    (inputs / "shard-00002.grad@2.ids").write_text("")
    with pytest.raises(quadcat.QuadcatError, match="no learning rate"):
        quadcat_ray.build(target, inputs, engine="local", learning_rates={1: 1e-5}, projection=PROJECTION)
    assert not target.exists(), "nothing is created before the inputs pass their checks"
    # An embedding file one row short: the attach fails in shard 2's task, named by its file.
    (inputs / "shard-00002.grad@2.ids").write_text(
        "".join(json.loads(line)["id"] + "\n" for r, line in enumerate(demo.lines()) if r >= 1300 and r % SAMPLE == 0))
    np.save(inputs / "shard-00002.emb.npy", np.load(demo.data / "emb.npy")[1300:1999])
    refused(f"{inputs / 'shard-00002.emb.npy'}: ")


def test_python_m_quadcat_ray_builds_a_set(demo, tmp_path):
    inputs = lay_out(demo, tmp_path / "inputs", "jsonl")
    command = [sys.executable, "-m", "quadcat.ray", "build", str(tmp_path / "pool.set"), str(inputs), "--shards", "3",
               "--lr", f"1={LEARNING_RATES[1]}", "--lr", f"2={LEARNING_RATES[2]}", "--projection", PROJECTION,
               "--engine", "local"]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert result.returncode == 0, result.stderr.decode()
    assert "3 shards, 2000 rows (3 built now, 0 done before)" in result.stdout.decode()
    again = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert "(0 built now, 3 done before)" in again.stdout.decode()
    without_rates = [word for i, word in enumerate(command) if word != "--lr" and command[i - 1] != "--lr"]
    bad = subprocess.run(without_rates, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert bad.returncode == 1 and "no learning rate" in bad.stderr.decode()
