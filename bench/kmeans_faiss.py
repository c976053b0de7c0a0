"""faiss.Kmeans beside quadcat's k-means on the same data (issue 23; `make bench-kmeans`).

Reads the JSON that `quadcat-bench kmeans` wrote (the float16 embedding file, the sample's rows, k,
iterations and quadcat's timings), runs `faiss.Kmeans` with the same k, dimension, iterations and
sample (no subsampling), then assigns every row with a flat L2 index a block at a time from the same
float16 file, and prints both side by side: time per Lloyd iteration and per assignment pass, the
k-means objective (sum of squared distances to the nearest centroid) on the sample and on every row.
"""

import json
import os
import sys
import time

import faiss
import numpy as np


def load():
    """The machine's load average (1, 5, 15 minutes)."""
    return " ".join(open("/proc/loadavg").read().split()[:3])


def assign_all(index, embeddings, block=65536):
    """Sum of squared distances of every row to its nearest centroid, a float16 block at a time."""
    total = 0.0
    for first in range(0, embeddings.shape[0], block):
        x = np.ascontiguousarray(embeddings[first:first + block], dtype=np.float32)
        distances, _ = index.search(x, 1)
        total += float(distances.sum(dtype=np.float64))
    return total


def main(path):
    quadcat = json.load(open(path))
    embeddings = np.load(quadcat["embeddings"], mmap_mode="r")
    rows = np.loadtxt(quadcat["sampleRows"], dtype=np.int64)
    sample = np.ascontiguousarray(embeddings[rows], dtype=np.float32)
    k, d, iterations = quadcat["clusters"], quadcat["dimension"], quadcat["iterations"]
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads; {quadcat['rows']} rows x {d}, "
          f"k = {k}, sample {len(rows)}, {iterations} iterations   [load {load()}]")

    kmeans = faiss.Kmeans(d, k, niter=iterations, seed=7, max_points_per_centroid=1 << 30, verbose=False)
    start = time.perf_counter()
    kmeans.train(sample)
    train = time.perf_counter() - start
    index = faiss.IndexFlatL2(d)
    index.add(kmeans.centroids)
    distances, _ = index.search(sample, 1)
    sample_objective = float(distances.sum(dtype=np.float64))
    start = time.perf_counter()
    objective = assign_all(index, embeddings)
    assign = time.perf_counter() - start
    print(f"faiss: train {train:.1f} s ({train / iterations:.2f} s per iteration), sample objective {sample_objective:.6g}; "
          f"assignment {assign:.1f} s, objective {objective:.6g}   [load {load()}]")

    flops = 2.0 * quadcat["rows"] * k * d
    print()
    print(f"SGEMM ({quadcat['sgemmShape']}, OpenBLAS): {quadcat['sgemmGflops']:.1f} GFLOP/s; load at the end {load()}")
    print("| k-means | seeding s | Lloyd s (per iteration) | fit s | sample objective | fit time / faiss | objective / faiss |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| faiss.Kmeans (random init) | 0 | {train:.1f} ({train / iterations:.2f}) | {train:.1f} | {sample_objective:.6g} | 1 | 1 |")
    for v in quadcat["variants"]:
        fit = v["seedSeconds"] + v["lloydSeconds"]
        per = v["lloydSeconds"] / max(1, v["lloydIterations"])
        print(f"| quadcat {v['seeding']} | {v['seedSeconds']:.1f} | {v['lloydSeconds']:.1f} ({per:.2f}) | {fit:.1f} | "
              f"{v['sampleObjective']:.6g} | {fit / train:.2f} | {v['sampleObjective'] / sample_objective:.4f} |")
    print()
    print("| assignment of every row | s | GFLOP/s | / SGEMM rate | objective (each its own centroids) | time / faiss |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| faiss IndexFlatL2.search | {assign:.1f} | {flops / assign / 1e9:.1f} | {flops / assign / 1e9 / quadcat['sgemmGflops']:.2f} | {objective:.6g} | 1 |")
    print(f"| quadcat ({quadcat['variants'][0]['seeding']}) | {quadcat['assignSeconds']:.1f} | {quadcat['assignGflops']:.1f} | "
          f"{quadcat['assignGflops'] / quadcat['sgemmGflops']:.2f} | {quadcat['assignObjective']:.6g} | {quadcat['assignSeconds'] / assign:.2f} |")
    first = quadcat["variants"][0]
    total_q = first["seedSeconds"] + first["lloydSeconds"] + quadcat["assignSeconds"]
    print(f"\nfit + assignment: quadcat {total_q:.1f} s, faiss {train + assign:.1f} s, ratio {total_q / (train + assign):.2f}")


if __name__ == "__main__":
    main(sys.argv[1])
