"""Shard sets selected on a real local Ray (``ray.init(num_cpus=2)``) and on local processes: the
members equal the single catalog's; a worker killed mid-step changes nothing; the plan runs as a
plain list of shell commands (a job array)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import quadcat
from quadcat import ShardSet

from conftest import Demo, run_cli, worker_killer

ray = pytest.importorskip("ray", reason="Ray is not installed (make test installs it: pip install './python[ray]')")
import quadcat.ray as quadcat_ray  # noqa: E402

CUTS = [0, 450, 1300, 2000]
PROJECTION = "rademacher:7:512"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, object_store_memory=150 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def build_shard(demo: Demo, rows: slice, path: Path) -> Path:
    """A shard catalog of the demo's rows, built with the package the way a user would."""
    lines = demo.lines()[rows]
    (path.parent / f"{path.stem}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    cat = quadcat.Catalog(path).create()
    cat.ingest(path.parent / f"{path.stem}.jsonl", corpus="pool")
    for c, lr in enumerate(Demo.learning_rates, start=1):
        cat.attach(np.load(demo.data / f"grads_ckpt{c}.npy")[rows], corpus="pool", column="grad", checkpoint=c, lr=lr,
                   projection=PROJECTION)
        cat.add_target("python", demo.data / f"val_grads_ckpt{c}.npy", checkpoint=c, projection=PROJECTION,
                       subtasks=demo.data / "val_subtasks.txt" if c == 1 else None)
    cat.attach(np.load(demo.data / "emb.npy")[rows], corpus="pool", column="emb")
    cat.add_target("python", demo.data / "val_emb.npy", column="emb")
    return path


@pytest.fixture(scope="module")
def shard_set(demo, tmp_path_factory) -> ShardSet:
    directory = tmp_path_factory.mktemp("shards")
    shards = [build_shard(demo, slice(a, b), directory / f"shard-{a}.quadcat") for a, b in zip(CUTS, CUTS[1:])]
    result = ShardSet.create(directory / "pool.set", corpus="pool")
    info = result.add(*shards)
    assert info["rows"] == Demo.rows and [s["rows"] for s in info["shards"]] == [450, 850, 700]
    return result


def single(demo: Demo, selector: str, name: str) -> np.ndarray:
    return demo.catalog.select(corpus="pool", target="python", selector=selector, budget=100, name=name).rows


@pytest.mark.parametrize("selector", ["less", "random", "gtp", "quad", "rds"])
def test_every_step_a_ray_task_gives_the_single_catalogs_members(local_ray, demo, shard_set, selector):
    subset = quadcat_ray.select(shard_set.path, selector=selector, target="python", budget=100, name=f"ray-{selector}")
    assert subset.rows.tolist() == single(demo, selector, f"single-{selector}").tolist()
    lineage = subset.lineage
    assert subset.selector == selector and lineage.selector == selector
    log = run_cli("log", shard_set.path / "head.quadcat", f"ray-{selector}").stdout.decode()
    assert f"ray-{selector}@1" in log


def test_spice_over_shards_keeps_the_objective_and_the_local_engine_agrees(local_ray, demo, shard_set):
    on_ray = quadcat_ray.select(shard_set.path, selector="spice", budget=100, name="ray-spice")
    local = quadcat_ray.select(shard_set.path, selector="spice", budget=100, name="local-spice", engine="local")
    assert on_ray.rows.tolist() == local.rows.tolist()
    single(demo, "spice", "single-spice")
    sharded_f = shard_set.head.compare("ray-spice").entries[0].log_det
    single_f = demo.catalog.compare("single-spice").entries[0].log_det
    print(f"SPICE over 3 shards: F {sharded_f}, single catalog {single_f}, ratio {sharded_f / single_f:.4f}")
    assert sharded_f >= 0.98 * single_f
    gtp = quadcat_ray.select(shard_set.path, selector="gtp", target="python", budget=100, name="local-gtp", engine="local")
    assert gtp.rows.tolist() == single(demo, "gtp", "single-gtp-local").tolist()


def test_spice_merges_as_a_tree_of_ray_tasks_past_the_fan_in(local_ray, shard_set):
    """Fan-in 2 over 3 shards: the shards' greedy, one round of 2 merge tasks, then the driver's merge."""
    flat = quadcat_ray.select(shard_set.path, selector="spice", budget=100, name="flat-spice")
    tree = quadcat_ray.select(shard_set.path, selector="spice", budget=100, name="tree-spice", merge_fan_in=2)
    assert len(tree.rows) == 100 and len(set(tree.rows.tolist())) == 100
    jobs = list((shard_set.path / "jobs").glob("tree-spice-*"))
    assert len(jobs) == 1 and sorted(p.name for p in (jobs[0] / "round-2").glob("*.result")) == ["shard-0.result", "shard-1.result"]
    f_tree = shard_set.head.compare("tree-spice").entries[0].log_det
    f_flat = shard_set.head.compare("flat-spice").entries[0].log_det
    print(f"SPICE over 3 shards: tree of fan-in 2 F {f_tree}, flat merge {f_flat}, ratio {f_tree / f_flat:.4f}")
    assert f_tree >= 0.98 * f_flat


def test_a_worker_killed_mid_step_changes_nothing(local_ray, demo, shard_set, tmp_path):
    """The first attempt of shard 1's step announces its worker's pid and waits; the test kills that
    worker with SIGKILL; Ray retries the task, and the selection completes with the same members."""
    signals = tmp_path / "signals"
    signals.mkdir()

    def hook(round_, shard):
        if shard == 1 and not (signals / "killed").exists():
            (signals / "pid").write_text(str(os.getpid()))
            time.sleep(60)

    with worker_killer(signals) as killed:
        subset = quadcat_ray.select(shard_set.path, selector="less", target="python", budget=100, name="survives", hook=hook)
    assert killed, "the step's worker was never killed"
    assert subset.rows.tolist() == single(demo, "less", "single-survives").tolist()
    # No partial result was read: every result file of the job is complete.
    job = Path(shard_set.path / "jobs")
    results = list(job.glob("survives-*/round-1/shard-*.result"))
    assert len(results) == 3 and all(r.read_bytes().startswith(b"quadcat-step-v1 ") for r in results)


def test_the_plan_runs_as_a_job_array(demo, shard_set, tmp_path):
    plan = run_cli("set", "plan", shard_set.path, "--selector", "quad", "--target", "python", "--budget", "100", "--as", "array-quad")
    script = tmp_path / "steps.sh"
    binary = quadcat.binary()
    lines = plan.stdout.decode().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("quadcat merge") and lines[-1].endswith("--finish")
    script.write_text("set -e\n" + "\n".join(f"{binary}{line[len('quadcat'):]}" for line in lines) + "\n")
    subprocess.run(["sh", str(script)], check=True, stdout=subprocess.DEVNULL)
    sharded = shard_set.head.subset("array-quad")
    assert sharded.rows.tolist() == single(demo, "quad", "single-array-quad").tolist()


def test_python_m_quadcat_ray_runs_a_selection(shard_set):
    result = subprocess.run(
        [sys.executable, "-m", "quadcat.ray", "select", str(shard_set.path), "--selector", "random", "--budget", "50",
         "--as", "module-random", "--engine", "local"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert result.returncode == 0, result.stderr.decode()
    assert "module-random@1: 50 rows selected by random" in result.stdout.decode()
    assert len(shard_set.head.subset("module-random").rows) == 50


def test_bad_shards_and_missing_results_raise_with_the_tools_words(demo, shard_set, tmp_path):
    other = ShardSet.create(tmp_path / "other.set", corpus="pool")
    with pytest.raises(quadcat.QuadcatError, match="no corpus 'pool'"):
        empty = quadcat.Catalog(tmp_path / "empty.quadcat").create()
        other.add(empty.path)
    job = shard_set.plan(selector="less", target="python", budget=10, name="half-done")
    with pytest.raises(quadcat.QuadcatError, match="no result from shard 0"):
        quadcat._cli.run_json([*job.merge, "--json"])
    assert shard_set.verify(quick=True)["damage"] == []
