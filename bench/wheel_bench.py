"""The wheel's bundled binary against the dynamically linked one, side by side in one run (issue 21).

    python bench/wheel_bench.py --dynamic .build/release/quadcat --bundled VENV/.../quadcat/_bin/quadcat \
        [--realbench /work/shared/realbench] [--work DIR] [--reps 5]

Builds the realbench catalog (init, ingest, attach of four gradient checkpoints and the embeddings, the
target's columns) with each binary, then runs every selector at realbench's budget (600 rows) with each,
alternating the binaries within every repetition so that both see the same machine. Prints the medians
and the best of the selector time quadcat records (elapsedSeconds), the median of the process's wall
time, the ratios (bundled / dynamic), and
whether both binaries chose the same subset (content hash), and the OpenBLAS core each one runs.
Plain Python, no dependencies.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

SELECTORS = ["less", "gtp", "spice", "quad", "dpp", "rds", "random"]


def run(binary, *args):
    started = time.perf_counter()
    result = subprocess.run([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{binary} {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout, wall


def build_catalog(binary, realbench, catalog):
    shutil.rmtree(catalog, ignore_errors=True)
    rates = [c["mean_lr"] for c in json.loads((realbench / "checkpoints.json").read_text())["checkpoints"]]
    started = time.perf_counter()
    run(binary, "init", str(catalog))
    run(binary, "ingest", str(catalog), str(realbench / "corpus.jsonl"), "--corpus", "pool")
    for c, rate in enumerate(rates, start=1):
        run(binary, "attach", str(catalog), str(realbench / f"grads_ckpt{c}.npy"), "--corpus", "pool", "--column", "grad",
            "--checkpoint", str(c), "--lr", repr(rate), "--projection", "rademacher:20261123:1024")
        run(binary, "target", "add", str(catalog), "python", str(realbench / f"val_grads_ckpt{c}.npy"), "--checkpoint", str(c),
            "--projection", "rademacher:20261123:1024")
    run(binary, "attach", str(catalog), str(realbench / "embeddings.npy"), "--corpus", "pool", "--column", "emb")
    run(binary, "target", "add", str(catalog), "python", str(realbench / "val_embeddings.npy"), "--column", "emb")
    return time.perf_counter() - started


def openblas_core(binary):
    result = subprocess.run([binary, "--version"], env=dict(os.environ, OPENBLAS_VERBOSE="2"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    cores = [line.split(":", 1)[1].strip() for line in result.stdout.splitlines() if line.startswith("Core:")]
    return " -> ".join(cores) or "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dynamic", required=True, help="the dynamically linked binary (.build/release/quadcat)")
    parser.add_argument("--bundled", required=True, help="the wheel's binary, as installed (site-packages/quadcat/_bin/quadcat)")
    parser.add_argument("--realbench", default=os.environ.get("QUADCAT_REALBENCH", "/work/shared/realbench"))
    parser.add_argument("--work", default=None)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--selectors", default=",".join(SELECTORS))
    args = parser.parse_args()
    realbench = Path(args.realbench)
    work = Path(args.work or tempfile.mkdtemp(prefix="wheel-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    binaries = {"dynamic": str(Path(args.dynamic).resolve()), "bundled": str(Path(args.bundled).resolve())}
    for name, binary in binaries.items():
        print(f"{name:8} {binary}: version {run(binary, '--version')[0].strip()}, OpenBLAS core {openblas_core(binary)}")

    build = {name: [] for name in binaries}
    for _ in range(2):
        for name, binary in binaries.items():
            build[name].append(build_catalog(binary, realbench, work / f"{name}.quadcat"))
    catalog = work / "dynamic.quadcat"  # every selection reads one catalog, whichever binary runs it
    selectors = args.selectors.split(",")
    selector_time = {(s, n): [] for s in SELECTORS for n in binaries}
    wall = {(s, n): [] for s in SELECTORS for n in binaries}
    hashes = {(s, n): set() for s in SELECTORS for n in binaries}
    for rep in range(args.reps):
        for selector in selectors:
            order = list(binaries.items()) if rep % 2 == 0 else list(reversed(binaries.items()))
            for name, binary in order:
                out, seconds = run(binary, "select", str(catalog), "--corpus", "pool", "--target", "python", "--selector", selector,
                                   "--budget", "600", "--as", f"{selector}-{name}", "--json")
                report = json.loads(out)
                selector_time[(selector, name)].append(report["elapsedSeconds"])
                wall[(selector, name)].append(seconds)
                hashes[(selector, name)].add(report["contentHash"])

    median = statistics.median
    print(f"\nrealbench (12,000 x 1024 x 4 checkpoints), budget 600, median of {args.reps} alternating runs each")
    print(f"{'step':14} {'dynamic':>10} {'bundled':>10} {'ratio':>6}  {'best dyn':>9} {'best bun':>9} {'ratio':>6}  {'wall dyn':>9} {'wall bun':>9}  same subset")
    print(f"{'catalog build':14} {median(build['dynamic']):9.2f}s {median(build['bundled']):9.2f}s "
          f"{median(build['bundled']) / median(build['dynamic']):6.2f}")
    for selector in selectors:
        d, b = median(selector_time[(selector, 'dynamic')]), median(selector_time[(selector, 'bundled')])
        wd, wb = median(wall[(selector, 'dynamic')]), median(wall[(selector, 'bundled')])
        bd, bb = min(selector_time[(selector, 'dynamic')]), min(selector_time[(selector, 'bundled')])
        same = hashes[(selector, "dynamic")] == hashes[(selector, "bundled")] and len(hashes[(selector, "dynamic")]) == 1
        print(f"{selector:14} {d * 1000:8.0f}ms {b * 1000:8.0f}ms {b / d:6.2f}  {bd * 1000:7.0f}ms {bb * 1000:7.0f}ms {bb / bd:6.2f}  {wd * 1000:7.0f}ms {wb * 1000:7.0f}ms  {'yes' if same else 'NO'}")
    print(f"\nwork directory: {work}")


if __name__ == "__main__":
    main()
