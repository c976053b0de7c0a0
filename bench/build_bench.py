#!/usr/bin/env python3
"""A shard set built by the engine (quadcat.ray.build) against the same build one shard after another:
wall time, rows/s, and the two sets' manifests compared (the same records and column content hashes).

usage: build_bench.py WORK [--shards 32] [--rows 64000] [--emb-dim 384] [--grad-dim 1024] [--sample 0.05]
                      [--num-cpus 2]

The inputs are generated into WORK/build-inputs (JSONL shards, an embedding file per shard, gradients
for a sample of rows with an ids file, a target) and removed at the end.
"""
import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import ray

import quadcat.ray

PROJECTION = "rademacher:20261123:{dim}"


def lay_out(directory: Path, shards: int, rows: int, emb_dim: int, grad_dim: int, sample: float) -> None:
    directory.mkdir(parents=True)
    rng = np.random.default_rng(23)
    per = rows // shards
    for s in range(shards):
        stem = f"shard-{s:05d}"
        first = s * per
        with open(directory / f"{stem}.jsonl", "w") as handle:
            for r in range(first, first + per):
                handle.write(json.dumps({"id": f"doc-{r}", "text": f"document {r} " + "lorem ipsum " * (r % 40)}) + "\n")
        np.save(directory / f"{stem}.emb.npy", rng.standard_normal((per, emb_dim), dtype=np.float32).astype(np.float16))
        picked = [r for r in range(first, first + per) if (r * 2654435761) % 1000 < sample * 1000]
        np.save(directory / f"{stem}.grad@1.npy", rng.standard_normal((len(picked), grad_dim), dtype=np.float32).astype(np.float16))
        (directory / f"{stem}.grad@1.ids").write_text("".join(f"doc-{r}\n" for r in picked))
    (directory / "targets").mkdir()
    np.save(directory / "targets/val.grad@1.npy", rng.standard_normal((64, grad_dim), dtype=np.float32).astype(np.float16))
    np.save(directory / "targets/val.emb.npy", rng.standard_normal((64, emb_dim), dtype=np.float32).astype(np.float16))


def manifest(set_path: Path):
    data = json.loads((set_path / "set.json").read_text())
    for shard in data["shards"]:
        del shard["path"]
    return data


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("work")
    parser.add_argument("--shards", type=int, default=32)
    parser.add_argument("--rows", type=int, default=64_000)
    parser.add_argument("--emb-dim", type=int, default=384)
    parser.add_argument("--grad-dim", type=int, default=1024)
    parser.add_argument("--sample", type=float, default=0.05)
    parser.add_argument("--num-cpus", type=int, default=2)
    args = parser.parse_args(argv)
    work = Path(args.work) / "build-bench"
    shutil.rmtree(work, ignore_errors=True)
    inputs = work / "inputs"
    started = time.monotonic()
    lay_out(inputs, args.shards, args.rows, args.emb_dim, args.grad_dim, args.sample)
    size = sum(p.stat().st_size for p in inputs.rglob("*") if p.is_file())
    print(f"inputs: {args.shards} JSONL shards, {args.rows} rows, emb {args.emb_dim}-dim f16 for every row, grad {args.grad_dim}-dim "
          f"f16 for {args.sample:.0%} (ids files); {size / 1e6:.0f} MB, generated in {time.monotonic() - started:.1f} s")
    options = dict(shards=args.shards, learning_rates={1: 2e-5}, projection=PROJECTION.format(dim=args.grad_dim))
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    timings = {}
    for name, engine, parallel in (("serial (one shard at a time)", "local", 1), (f"Ray, {args.num_cpus} CPUs", "ray", None)):
        target = work / f"{engine}-{parallel}.set"
        started = time.monotonic()
        quadcat.ray.build(target, inputs, engine=engine, parallel=parallel, **options)
        timings[name] = time.monotonic() - started
        print(f"  {name:<30} {timings[name]:7.1f} s  {args.rows / timings[name]:9,.0f} rows/s  (build, set add, set verify)")
    started = time.monotonic()
    again = quadcat.ray.build(work / "ray-None.set", inputs, **options)
    print(f"  {'rerun (every shard done)':<30} {time.monotonic() - started:7.1f} s  ({sum(r['skipped'] for r in again['shards'])} of {args.shards} shards skipped)")
    same = manifest(work / "local-1.set") == manifest(work / "ray-None.set")
    print(f"  the two sets' manifests (records and column content hashes) are {'identical' if same else 'DIFFERENT'}")
    ray.shutdown()
    shutil.rmtree(work)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
