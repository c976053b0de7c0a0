#!/usr/bin/env python3
"""make bench-shards: every selector over the reference pool split into shards, each step a Ray task
on a local Ray, with the step and merge times and the bytes moved, and a projection of the time for
10^8 rows x 8,192 x 4 checkpoints on 16 and 128 machines from those figures.

usage: shards_bench.py SET [--selectors less,random,quad,gtp,spice,rds] [--budget 0.5%] [--num-cpus 2]
                       [--out results.json] [--tree-fan-in 4 [--tree-selectors spice,dpp]]

--tree-fan-in F: GreeDi's tree of merges of fan-in F against the flat merge (every shard's picks in one
merge on the driver), for SPICE (and the DPP): the time of the merges at each level and the objective
F (log det) of the tree's subset over the flat merge's (--selectors "" runs only this).
"""
import argparse
import json
import math
import sys
import time

import ray

import quadcat
import quadcat.ray

TARGET_ROWS = 100_000_000
MACHINES = (16, 128)
# Assumptions of the projection (printed with it).
DISK_GBPS = 1.2          # each machine reads its shards at this speed (this machine's disk: see its bench-scale line)
NETWORK_GBPS = 1.0       # a machine's link: step results to the driver, the broadcast to every machine
MERGE_SCALING = "linear in the candidates the merge sees (shards x k for one-round selectors, 2k for GTP's pursuit)"


def run(set_path, selector, budget, target):
    started = time.monotonic()
    subset = quadcat.ray.select(set_path, selector=selector, budget=budget, name=f"bench-{selector}",
                                target=None if selector in ("spice", "random") else target)
    wall = time.monotonic() - started
    diagnostics = subset.info.diagnostics
    counters, series = diagnostics.counters, diagnostics.series
    rounds = [values for key, values in sorted(series.items(), key=lambda item: int(item[0].split("round")[-1]) if "round" in item[0] else 0)
              if key.startswith("stepSeconds.round")]
    return {
        "selector": selector, "rows": len(subset.rows), "wall": wall, "rounds": len(rounds),
        "counters": {key: counters[key] for key in ("kmeansRounds", "readRounds", "clusters", "rowsFetched", "kmeansIterations") if key in counters},
        "stepSecondsPerRound": rounds, "mergeSeconds": series.get("mergeSeconds", []),
        "resultBytes": counters.get("resultBytes", 0), "broadcastBytes": counters.get("broadcastBytes", 0),
        "fetchedBytes": counters.get("fetchedBytes", 0),
    }


def tree_against_flat(set_path, selector, budget, target, fan_in, shards):
    """The same selection with a flat merge (fan-in = the shard count) and a tree of fan-in ``fan_in``:
    per level, the merge steps' time (slowest and total) and the candidates of the driver's merge; the
    objective F of each subset (log det, as ``compare`` reports it)."""
    head = quadcat.ShardSet(set_path).head
    out = {}
    for kind, fan in (("flat", max(shards, 2)), ("tree", fan_in)):
        name = f"bench-{selector}-{kind}"
        started = time.monotonic()
        subset = quadcat.ray.select(set_path, selector=selector, budget=budget, name=name, merge_fan_in=fan,
                                    target=None if selector == "spice" else target)
        wall = time.monotonic() - started
        series = subset.info.diagnostics.series
        rounds = [series[k] for k in sorted((k for k in series if k.startswith("stepSeconds.round")), key=lambda k: int(k.split("round")[-1]))]
        leaf = 1 if selector == "spice" else 2
        out[kind] = {
            "fanIn": fan, "wall": wall, "rounds": len(rounds), "leafSteps": rounds[leaf - 1],
            "mergeSteps": rounds[leaf:], "driverMerge": series.get("mergeSeconds", [0])[-1],
            "logDet": head.compare(name).entries[0].log_det,
        }
    out["ratio"] = out["tree"]["logDet"] / out["flat"]["logDet"]
    return out


def print_tree(selector, result, budget_rows, shards):
    for kind in ("flat", "tree"):
        r = result[kind]
        levels = " + ".join(f"{max(level):.2f}" for level in r["mergeSteps"]) or "none"
        inner = sum(sum(level) for level in r["mergeSteps"])
        last = len(r["mergeSteps"][-1]) if r["mergeSteps"] else shards
        print(f"  {selector:<6} {kind:<5} fan-in {r['fanIn']:>3}: wall {r['wall']:7.1f} s; leaf steps slowest {max(r['leafSteps']):6.2f} s; "
              f"merge steps slowest per level {levels} s (total {inner:.2f} s); driver merge {r['driverMerge']:6.2f} s "
              f"over {last} results (<= {last * budget_rows:,} candidates); F {r['logDet']:.2f}")
    print(f"  {selector:<6} F(tree) / F(flat) = {result['ratio']:.4f}")


def project(result, rows, shards, budget_rows):
    """Seconds for TARGET_ROWS on each machine count, and the parts it is made of."""
    scale = TARGET_ROWS / rows
    out = {}
    for machines in MACHINES:
        # Steps: every shard's work grows with its rows; shards run on the machines in parallel.
        step_cpu = sum(sum(r) for r in result["stepSecondsPerRound"])  # all shards, all rounds
        steps = step_cpu * scale / machines
        # Bytes: step results grow with the budget (top-k lists) and the machine count; the broadcast
        # goes to every machine; the driver fetches candidate rows (grows with k).
        moved = (result["resultBytes"] * scale * machines / shards + result["broadcastBytes"] * machines + result["fetchedBytes"] * scale)
        transfer = moved / (NETWORK_GBPS * 1e9)
        merges = sum(result["mergeSeconds"]) * scale
        out[machines] = {"seconds": steps + transfer + merges, "steps": steps, "transfer": transfer, "merges": merges}
    return out


QUAD_TARGETS = (100_000_000, 1_000_000_000)
QUAD_SAMPLE = 100_000     # the k-means sample (Quad's kmeansSample default)
QUAD_TAU_SAMPLE = 2000
EMBEDDING_DIM = 384


def quad_phases(result, shards):
    """The measured Quad run cut into its phases (rounds 1 and 2 the sample: its rows, then their
    embeddings read by the shards; then the k-means passes, the assignment of every row, the read
    rounds): per round the core-seconds of its steps beyond a fixed per-step overhead (the fastest
    step of round 1, which hashes a shard's rows and little else), the slowest step and the merge."""
    rounds, merges = result["stepSecondsPerRound"], result["mergeSeconds"]
    overhead = min(rounds[0])
    work = lambda r: sum(max(0.0, t - overhead) for t in rounds[r])
    fit = result["counters"]["kmeansRounds"]
    assign = 2 + fit
    return {
        "overhead": overhead,
        "sample": {"work": work(0) + work(1), "slowest": max(rounds[0]) + max(rounds[1]), "merge": merges[0] + merges[1]},
        "fit": [{"work": work(r), "slowest": max(rounds[r]), "merge": merges[r]} for r in range(2, 2 + fit)],
        "assign": {"work": work(assign), "slowest": max(rounds[assign]), "merge": merges[assign], "total": sum(rounds[assign])},
        "reads": [{"work": work(r), "slowest": max(rounds[r]), "merge": merges[r]} for r in range(assign + 1, len(rounds))],
    }


def project_quad(result, rows, shards, cores=2):
    """Quad's time on N rows and M machines like this one from the measured phases (assumptions printed
    with it): a round's time is the per-step overhead plus its work spread over the machines' cores,
    the work of each phase scaled by what it reads (rows for the sample, assignment and read rounds;
    the fixed sample for the k-means passes) and by k = sqrt(N) where it compares with every centroid;
    the driver's merges scale with what they hold: the seeding merge (weighted k-means++ over the
    k-means|| draws) as k^2 ln k beyond the fixed cost every merge has (the median of the other k-means
    merges: starting, reading the sample, writing the fit); the other k-means merges not at all (they update the fit from the
    fixed sample: measured the same at k = 10,000 as at 3,162); the assignment's merge (the bandit's
    first run, with the centroids' neighbour lists) as k^2; the read rounds' with the rows fetched."""
    phases = quad_phases(result, shards)
    k = result["counters"]["clusters"]
    fetched = result["counters"]["rowsFetched"]
    o = phases["overhead"]
    fit = phases["fit"]
    seeding = max(fit, key=lambda f: f["merge"])
    others = [f for f in fit if f is not seeding]
    lloyd_merge = sum(f["merge"] for f in others) / max(1, len(others))
    fixed = sorted(f["merge"] for f in others)[len(others) // 2] if others else 0.0
    lloyd_work = max(f["work"] for f in fit[-3:])        # a Lloyd pass: the sample against all k centroids
    passes = 1 + 5 + 20                                   # the most the fit runs: first draw, 5 k-means|| rounds, 20 Lloyd iterations
    out = {}
    for target in QUAD_TARGETS:
        k2 = round(target ** 0.5)
        grow_k = k2 / k
        share = (target / rows)                           # rows per machine grow with the corpus, shrink with the machines
        for machines in MACHINES:
            spread = lambda work: work / (machines * cores)
            steps = 2 * o + spread(phases["sample"]["work"] * share)
            steps += passes * (o + spread(lloyd_work * grow_k))
            steps += o + spread(phases["assign"]["work"] * share * grow_k)
            read_rounds = max(1, round(len(phases["reads"]) * share ** 0.5))   # bandit rounds grow with pulls: budget / cluster size
            read_work = max((r["work"] for r in phases["reads"]), default=0.0)
            steps += read_rounds * (o + spread(read_work * share))
            driver = (phases["sample"]["merge"] + (passes - 1) * lloyd_merge
                      + fixed + max(0.0, seeding["merge"] - fixed) * grow_k ** 2 * math.log(k2) / math.log(k)
                      + phases["assign"]["merge"] * grow_k ** 2 + sum(r["merge"] for r in phases["reads"]) * share)
            # Bytes into the driver: a label and a distance per sample row each pass, the counts per cluster from every
            # machine, the rows fetched (16 bytes each), the sample's embeddings once; out: each pass's centers.
            inbound = passes * QUAD_SAMPLE * 8 + machines * (k2 * 16 + QUAD_TAU_SAMPLE * 12) + fetched * share * 16 + QUAD_SAMPLE * EMBEDDING_DIM * 4
            outbound = passes * k2 * EMBEDDING_DIM * 4
            transfer = (inbound + outbound) / (NETWORK_GBPS * 1e9)
            total = steps + driver + transfer
            out[f"{target:.0e}/{machines}"] = {"seconds": total, "steps": steps, "driver": driver, "transfer": transfer,
                                               "driverShare": (driver + inbound / (NETWORK_GBPS * 1e9)) / total, "clusters": k2, "readRounds": read_rounds}
    return out


def print_quad(result, rows, shards):
    phases = quad_phases(result, shards)
    fit, assign, reads = phases["fit"], phases["assign"], phases["reads"]
    print(f"\nquad, measured ({rows:,} rows, {shards} shards; per-step overhead {phases['overhead']:.2f} s): sample: slowest step "
          f"{phases['sample']['slowest']:.2f} s, merge {phases['sample']['merge']:.2f} s; {len(fit)} k-means rounds: slowest steps "
          f"{sum(f['slowest'] for f in fit):.1f} s, merges {sum(f['merge'] for f in fit):.1f} s (largest {max(f['merge'] for f in fit):.1f} s: "
          f"the seeding over the k-means|| draws); assignment: slowest step {assign['slowest']:.1f} s ({assign['total']:.1f} s over all shards), "
          f"merge {assign['merge']:.2f} s; {len(reads)} read rounds: slowest steps {sum(r['slowest'] for r in reads):.2f} s, "
          f"merges {sum(r['merge'] for r in reads):.2f} s; {result['counters'].get('rowsFetched', 0):,.0f} rows fetched")
    print("quad, projected (machines like this one, 2 cores; k = sqrt(N); the fit at its most passes, 1 + 5 + 20; each round a "
          "per-step overhead plus its work over every core; see project_quad):")
    for key, p in project_quad(result, rows, shards).items():
        target, machines = key.split("/")
        print(f"  {float(target):.0e} rows, {machines:>3} machines, k = {p['clusters']:,}: {p['seconds'] / 60:5.1f} min "
              f"(steps {p['steps'] / 60:.1f}, driver {p['driver'] / 60:.2f}, transfer {p['transfer'] / 60:.2f}; driver's share {100 * p['driverShare']:.0f}%)")


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("set")
    parser.add_argument("--selectors", default="less,random,rds,quad,gtp,spice")
    parser.add_argument("--budget", default="0.5%")
    parser.add_argument("--target", default="target")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--out")
    parser.add_argument("--tree-fan-in", type=int, help="also compare GreeDi's tree of merges of this fan-in with the flat merge")
    parser.add_argument("--tree-selectors", default="spice")
    args = parser.parse_args(argv)
    info = quadcat.ShardSet(args.set).info()
    rows, shards = info["rows"], len(info["shards"])
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    print(f"shard set {args.set}: {rows} rows in {shards} shards; local Ray with {args.num_cpus} CPUs; budget {args.budget}")
    print(f"{'selector':<8} {'rounds':>6} {'wall s':>8} {'steps s':>9} {'slowest':>8} {'merges s':>9} {'results':>10} {'broadcast':>10} {'fetched':>10}")
    results = []
    for selector in filter(None, args.selectors.split(",")):
        result = run(args.set, selector, args.budget, args.target)
        steps = sum(sum(r) for r in result["stepSecondsPerRound"])
        slowest = sum(max(r) for r in result["stepSecondsPerRound"])
        print(f"{selector:<8} {result['rounds']:>6} {result['wall']:>8.1f} {steps:>9.1f} {slowest:>8.1f} {sum(result['mergeSeconds']):>9.1f} "
              f"{result['resultBytes'] / 1e6:>8.1f}MB {result['broadcastBytes'] / 1e6:>8.1f}MB {result['fetchedBytes'] / 1e6:>8.1f}MB")
        results.append(result)
    budget_rows = float(args.budget.rstrip("%")) / 100 * TARGET_ROWS if args.budget.endswith("%") else float(args.budget)
    print(f"\nprojection to {TARGET_ROWS:.0e} rows x 8,192 x 4 checkpoints (budget {args.budget}: {budget_rows:,.0f} rows):")
    print(f"  assumptions: step work linear in rows ({rows} measured), shards spread evenly, machines like this one "
          f"({args.num_cpus} cores), {NETWORK_GBPS} GB/s links, disks at {DISK_GBPS} GB/s; merges {MERGE_SCALING}")
    for result in results:
        projection = project(result, rows, shards, budget_rows)
        result["projection"] = projection
        parts = "; ".join(f"{m} machines {p['seconds'] / 60:.1f} min (steps {p['steps'] / 60:.1f}, transfer {p['transfer'] / 60:.1f}, merges {p['merges'] / 60:.1f})"
                          for m, p in projection.items())
        print(f"  {result['selector']:<8} {parts}")
    for result in results:
        if result["selector"] == "quad" and "kmeansRounds" in result["counters"]:
            print_quad(result, rows, shards)
            result["quadProjection"] = project_quad(result, rows, shards)
    if args.tree_fan_in:
        rows_budget = int(round(float(args.budget.rstrip("%")) / 100 * rows)) if args.budget.endswith("%") else int(args.budget)
        print(f"\nGreeDi: a tree of merges of fan-in {args.tree_fan_in} against the flat merge ({shards} shards, budget {rows_budget} rows):")
        for selector in filter(None, args.tree_selectors.split(",")):
            tree = tree_against_flat(args.set, selector, args.budget, args.target, args.tree_fan_in, shards)
            print_tree(selector, tree, rows_budget, shards)
            results.append({"selector": selector, "treeAgainstFlat": tree})
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(results, handle, indent=2)
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
