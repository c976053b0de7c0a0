#!/usr/bin/env python3
"""Straightforward NumPy/SciPy implementations of quadcat's selectors: the benchmark baseline.

Each selector is written the way an ML engineer would write it in an afternoon from the papers and
docs/SELECTORS.md: plain NumPy on arrays already in memory, BLAS through `@`, SciPy's NNLS, no numba and
no hand-tuning. It follows quadcat's math, defaults and tie-breaking (ties go to the lower row)
wherever that is practical, so that the two produce the same (LESS, SPICE) or statistically similar
(GTP, Quad: their k-means and sampling use NumPy's generator, not quadcat's) subsets.

Usage:
    python3 bench/numpy_reference.py SELECTOR --pool-grads A.npy [B.npy ...] --lrs 2e-4,1e-4,...
        --target-grads V1.npy [...] [--subtasks labels.txt] [--embeddings E.npy] --budget K --seed S
        [--param key=value ...] [--max-seconds N] --out result.json

SELECTOR is less, gtp, spice, quad or random. Every array is loaded into memory first (float16,
float32 and float64 .npy files become float32; not timed), then only the selection is timed. LESS
and GTP use every checkpoint; SPICE and Quad use the last --pool-grads (and --target-grads) file,
as quadcat does by default. The JSON written to --out holds "selector", "seconds" (selection only),
"load_seconds", "rows" (selected row numbers in rank order), "n", "budget", "aborted" (true when
--max-seconds ran out; "rows" is then the best subset found so far) and "diagnostics".
"""

import argparse
import json
import math
import sys
import time

import numpy as np
import scipy.optimize
import scipy.sparse

SELECTORS = ("less", "gtp", "spice", "quad", "random")


class Aborted(Exception):
    """Raised when the --max-seconds budget runs out; carries the best rows found so far."""

    def __init__(self, rows, diagnostics):
        super().__init__("time budget exceeded")
        self.rows = rows
        self.diagnostics = diagnostics


class Deadline:
    """A wall-clock limit that long loops check between steps."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.start = time.perf_counter()

    def expired(self):
        return self.seconds is not None and time.perf_counter() - self.start > self.seconds


# ---------------------------------------------------------------------------------------------------
# Shared pieces


def unit_rows(x):
    """Rows divided by their norms (float32); zero or non-finite rows become zero. Returns (u, ok)."""
    norms = np.linalg.norm(x, axis=1)
    ok = np.isfinite(norms) & (norms > 0)
    scale = np.zeros_like(norms)
    scale[ok] = 1.0 / norms[ok]
    u = x * scale[:, None]
    u[~ok] = 0
    return u, ok


def top_k(scores, k, eligible=None):
    """Indices of the k largest scores, best first, ties to the lower index; NaN never chosen."""
    scores = np.asarray(scores, dtype=np.float64)
    valid = ~np.isnan(scores)
    if eligible is not None:
        valid &= eligible
    idx = np.flatnonzero(valid)
    order = np.argsort(-scores[idx], kind="stable")
    return idx[order[:k]]


def round_half_up(x):
    """Swift's `.rounded()` for non-negative x (half away from zero), not Python's banker's rounding."""
    return int(math.floor(x + 0.5))


def kmeans(x, k, rng, max_iter=100, tol=1e-4):
    """Lloyd's k-means with greedy k-means++ seeding (scikit-learn's: 2 + ln k trials per centroid).

    Stops when no assignment changes or the inertia drops by at most tol (relative); an empty
    cluster takes the row farthest from its centroid. Returns (centroids, assignments, iterations).
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.shape[0]
    k = min(k, n)
    x_sq = np.einsum("ij,ij->i", x, x)

    def sq_dist(points):
        d = x_sq[:, None] - 2 * (x @ points.T) + np.einsum("ij,ij->i", points, points)[None, :]
        return np.maximum(d, 0)

    trials = 2 + int(math.log(k))
    chosen = [int(rng.integers(n))]
    closest = sq_dist(x[chosen])[:, 0].astype(np.float64)
    while len(chosen) < k:
        total = closest.sum()
        if total <= 0:
            break
        cumulative = np.cumsum(closest)
        candidates = np.searchsorted(cumulative, rng.random(trials) * total, side="right")
        candidates = np.minimum(candidates, n - 1)
        dist = sq_dist(x[candidates]).astype(np.float64)
        potentials = np.minimum(closest[:, None], dist).sum(axis=0)
        best = int(np.argmin(potentials))
        chosen.append(int(candidates[best]))
        closest = np.minimum(closest, dist[:, best])
    centroids = x[chosen].copy()

    def nearest(c):
        d = np.einsum("ij,ij->i", c, c)[None, :] - 2 * (x @ c.T)
        a = np.argmin(d, axis=1)
        return a, np.maximum(d[np.arange(n), a] + x_sq, 0)

    x64 = x.astype(np.float64)
    assignments = np.full(n, -1)
    inertia = math.inf
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        new, dist = nearest(centroids)
        new_inertia = float(dist.sum(dtype=np.float64))
        changed = bool((new != assignments).any())
        assignments = new
        converged = not changed or (math.isfinite(inertia) and inertia - new_inertia <= tol * max(inertia, 1e-30))
        inertia = new_inertia
        counts = np.bincount(assignments, minlength=len(centroids))
        members = scipy.sparse.csr_matrix(
            (np.ones(n), (assignments, np.arange(n))), shape=(len(centroids), n))
        sums = members @ x64
        nonempty = counts > 0
        centroids[nonempty] = (sums[nonempty] / counts[nonempty, None]).astype(np.float32)
        if not nonempty.all():
            far = np.argsort(-dist, kind="stable")
            taken = 0
            for c in np.flatnonzero(~nonempty):
                centroids[c] = x[far[taken]]
                taken += 1
        if converged:
            break
    assignments, _ = nearest(centroids)
    return centroids, assignments, iterations


# ---------------------------------------------------------------------------------------------------
# Selectors


def select_random(n, budget, seed, params, deadline):
    expect_params(params, {})
    k = min(budget, n)
    rows = np.random.default_rng(seed).choice(n, k, replace=False)
    return rows, {}


def select_less(pool, targets, lrs, subtasks, budget, params, deadline):
    """princeton-nlp/LESS matching.py: weighted sum over checkpoints of normalised train @ val.T,
    mean over the validation rows of a subtask, max over subtasks, top k."""
    p = expect_params(params, {"similarity": "cosine"})
    if p["similarity"] not in ("cosine", "inner-product"):
        fail("less: similarity must be cosine or inner-product")
    weights = lrs / lrs.sum()
    n = pool[0].shape[0]
    usable = np.ones(n, dtype=bool)
    influence = None
    for c in range(len(pool)):
        train, val = pool[c], targets[c]
        if p["similarity"] == "cosine":
            train, ok = unit_rows(train)
            val, _ = unit_rows(val)
        else:
            norms = np.linalg.norm(train, axis=1)
            ok = np.isfinite(norms) & (norms > 0)
        usable &= ok
        score = np.float32(weights[c]) * (train @ val.T)
        influence = score if influence is None else influence + score
    if subtasks is None:
        per_subtask = influence.mean(axis=1, keepdims=True)
    else:
        labels = sorted(set(subtasks), key=str)
        label_array = np.array(subtasks, dtype=object)
        per_subtask = np.stack([influence[:, label_array == lab].mean(axis=1) for lab in labels], axis=1)
    scores = per_subtask.max(axis=1).astype(np.float64)
    scores[~usable] = np.nan
    rows = top_k(scores, budget)
    return rows, {"excludedRows": int((~usable).sum()), "subtasks": per_subtask.shape[1]}


def select_spice(pool, budget, params, deadline):
    """The exact (non-lazy) greedy on log det(I + alpha sum g g^T) with the conflict penalty.

    M_S^{-1} = I - B B^T; q_i = g_i^T M_S^{-1} g_i starts at ||g_i||^2; after picking j,
    u = g_j - B^T (B g_j), b = sqrt(alpha) u / sqrt(1 + alpha q_j), q_i -= (g_i . b)^2 and
    h_i = g_i . sum_S g: one GEMM of all rows against [b, sum] per step.
    """
    p = expect_params(params, {"alpha": 1.0, "rho": 0.1, "halflife": None})
    alpha, rho = float(p["alpha"]), float(p["rho"])
    halflife = None if p["halflife"] is None else float(p["halflife"])
    g_all = pool[-1]
    finite = np.isfinite(g_all).all(axis=1)
    ids = np.flatnonzero(finite)
    x = g_all if finite.all() else np.ascontiguousarray(g_all[finite])
    m, d = x.shape
    k = min(budget, m)
    # q = ||g||^2 - sum (g . b)^2 cancels badly once the picks span the space (||g||^2 ~ 1e6, q ~ 1),
    # so the products with b run in float64, on a float64 copy of the rows made once.
    x64 = x.astype(np.float64)
    sq = np.einsum("ij,ij->i", x64, x64)
    norm = np.sqrt(sq)
    q = sq.copy()
    h = np.zeros(m, dtype=np.float64)
    total_sum = np.zeros(d, dtype=np.float64)
    sum_norm = 0.0
    directions = np.zeros((k, d), dtype=np.float64)
    count = 0
    available = np.ones(m, dtype=bool)
    picks, trace, gains = [], [], []
    objective = 0.0
    first_gain = None
    stop = "budget"
    for step in range(k):
        if deadline.expired():
            raise Aborted(ids[picks], {"objective": trace, "stop": "max-seconds"})
        gain = np.log1p(alpha * q)
        total = gain
        if rho > 0 and step > 0 and sum_norm > 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                cos = np.where(norm > 0, h.astype(np.float64) / (norm * sum_norm), 0.0)
            total = gain - rho * np.maximum(0.0, -cos)
        total = np.where(available, total, -np.inf)
        j = int(np.argmax(total))
        if not available[j]:
            stop = "exhausted"
            break
        if halflife is not None and step > 0 and gain[j] <= halflife * first_gain:
            stop = "halflife"
            break
        if step == 0:
            first_gain = float(gain[j])
        objective += float(gain[j])
        picks.append(j)
        gains.append(float(gain[j]))
        trace.append(objective)
        available[j] = False
        g = x64[j]
        total_sum += g
        sum_norm = float(np.linalg.norm(total_sum))
        b = np.zeros(d, dtype=np.float64)
        if q[j] > 0:
            u = g - directions[:count].T @ (directions[:count] @ g)
            b = u * math.sqrt(alpha / (1 + alpha * q[j]))
            directions[count] = b
            count += 1
        products = x64 @ np.stack([b, total_sum], axis=1)
        q = np.maximum(0.0, q - products[:, 0] ** 2)
        h = products[:, 1]
    return ids[picks], {"objective": trace[-1] if trace else 0.0, "stop": stop,
                        "firstGain": gains[0] if gains else None, "lastGain": gains[-1] if gains else None,
                        "nonFiniteRows": int((~finite).sum())}


def select_gtp(pool, targets, lrs, budget, seed, params, deadline):
    """Gradient Trajectory Pursuit as docs/SELECTORS.md reconstructs it: simultaneous CoSaMP with NNLS.

    Trajectories a_z = [sqrt(w_c) u(z,c)]_c; the validation trajectories are grouped by k-means into
    G groups whose means are the columns of Y. Each iteration correlates every row with the residual,
    takes the 2k best, solves NNLS with scipy.optimize.nnls per group on A_T, prunes to the k rows of
    largest weight norm and refits on them. Like quadcat, it keeps the best subset and stops at the
    first iteration that does not lower the residual (CoSaMP's pruning can raise it).
    """
    p = expect_params(params, {"groups": 32, "iterations": 20, "tolerance": 1e-4})
    groups, iterations, tolerance = int(p["groups"]), int(p["iterations"]), float(p["tolerance"])
    root_weights = np.sqrt(lrs / lrs.sum())
    n = pool[0].shape[0]

    # Trajectories: float32 for the correlation pass over the pool.
    parts, eligible = [], np.ones(n, dtype=bool)
    for c in range(len(pool)):
        u, ok = unit_rows(pool[c])
        parts.append(u * np.float32(root_weights[c]))
        eligible &= ok
    trajectories = np.concatenate(parts, axis=1)
    del parts

    def candidate_trajectories(rows):
        """Trajectories of the given rows in float64 (so exact duplicates are exactly dependent)."""
        out = []
        for c in range(len(pool)):
            g = pool[c][rows].astype(np.float64)
            out.append(g * (root_weights[c] / np.linalg.norm(g, axis=1))[:, None])
        return np.concatenate(out, axis=1)

    target_parts = []
    for c in range(len(targets)):
        v = targets[c].astype(np.float64)
        norms = np.linalg.norm(v, axis=1)
        ok = np.isfinite(norms) & (norms > 0)
        scale = np.where(ok, root_weights[c] / np.where(ok, norms, 1), 0.0)
        target_parts.append(v * scale[:, None])
    target_traj = np.concatenate(target_parts, axis=1)
    m = target_traj.shape[0]
    wanted = min(groups, m)
    if wanted > 1:
        _, labels, _ = kmeans(target_traj, wanted, np.random.default_rng(seed))
    else:
        labels = np.zeros(m, dtype=int)
    y = np.stack([target_traj[labels == j].mean(axis=0) for j in range(labels.max() + 1) if (labels == j).any()])
    g_count = y.shape[0]
    y_norm = float(np.linalg.norm(y))

    def nnls_columns(a_t):
        """W (|T| x G): one scipy NNLS per group column, checking the time budget between solves."""
        a_t = np.ascontiguousarray(a_t)
        w = np.zeros((a_t.shape[1], g_count))
        for j in range(g_count):
            if deadline.expired():
                raise Aborted(kept_rows, {"iterations": it, "relativeResidual": kept_rel, "stop": "max-seconds",
                                           "groups": g_count, "trace": trace})
            try:
                w[:, j] = scipy.optimize.nnls(a_t, y[j])[0]
            except RuntimeError:  # iteration cap (3p) hit: allow more
                w[:, j] = scipy.optimize.nnls(a_t, y[j], maxiter=30 * a_t.shape[1])[0]
        return w

    k = min(budget, int(eligible.sum()))
    kept_rows = np.zeros(0, dtype=np.int64)
    kept_weights = np.zeros((0, g_count))
    kept_rel = 1.0
    residual = y
    stop = "iterations"
    trace = []
    it = 0
    for it in range(1, iterations + 1):
        if k == 0:
            break
        corr = np.maximum(trajectories @ residual.T.astype(np.float32), 0).sum(axis=1)
        omega = top_k(corr, 2 * k, eligible & (corr > 0))
        if len(omega) == 0:
            stop = "no-correlation"
            break
        t_rows = np.union1d(omega, kept_rows)
        a_t = candidate_trajectories(t_rows).T  # D x |T|
        w_full = nnls_columns(a_t)
        norms = np.linalg.norm(w_full, axis=1)
        pruned = np.sort(top_k(norms, k, norms > 0))
        a_s = a_t[:, pruned]
        w_s = nnls_columns(a_s)
        support = np.linalg.norm(w_s, axis=1) > 0
        chosen = t_rows[pruned][support]
        weights = w_s[support]
        new_residual = y - weights.T @ a_s[:, support].T
        relative = float(np.linalg.norm(new_residual)) / y_norm
        if np.array_equal(chosen, kept_rows):
            stop = "unchanged"
            break
        if not relative < kept_rel:
            stop = "no-improvement"
            break
        kept_rows, kept_weights, kept_rel, residual = chosen, weights, relative, new_residual
        trace.append(relative)
        if relative < tolerance:
            stop = "tolerance"
            break
    norms = np.linalg.norm(kept_weights, axis=1)
    order = np.lexsort((kept_rows, -norms))
    return kept_rows[order], {"iterations": it, "relativeResidual": kept_rel, "stop": stop,
                              "groups": g_count, "trace": trace, "eligibleRows": int(eligible.sum())}


def select_quad(pool, targets, embeddings, budget, seed, params, deadline):
    """Quad: k-means arms over embeddings, UCB bandit on slices' mean influence minus tau."""
    p = expect_params(params, {
        "clusters": None, "alpha": None, "arms": None, "bEst": 0.05, "gamma": 0.25, "tau": None,
        "tauQuantile": 0.8, "radius": None, "kmeansSample": 100_000, "tauSample": 2000, "maxRounds": None})
    if embeddings is None:
        fail("quad needs --embeddings")
    g, v = pool[-1], targets[-1]
    n = g.shape[0]
    if embeddings.shape[0] != n:
        fail(f"the embeddings have {embeddings.shape[0]} rows, the gradients {n}")
    streams = {name: np.random.default_rng([seed, i]) for i, name in
               enumerate(("kmeansSample", "kmeansSeeding", "clusterOrder", "tauSample", "estimation"), start=1)}

    # Influences I(z) = <g/||g||, vbar>, vbar the mean of the unit target rows.
    v64 = v.astype(np.float64)
    v_norms = np.linalg.norm(v64, axis=1)
    used = v_norms > 0
    vbar = (v64[used] / v_norms[used, None]).mean(axis=0).astype(np.float32)
    g_norms = np.linalg.norm(g, axis=1)
    scored_mask = np.isfinite(g_norms) & (g_norms > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        influence = np.where(scored_mask, (g @ vbar) / g_norms, np.nan)
    scored = np.flatnonzero(scored_mask)

    # Arms: k-means on the embeddings (on a sample when the pool is larger than kmeansSample).
    clusters = p["clusters"] if p["clusters"] is not None else max(1, round_half_up(math.sqrt(n)))
    if n <= p["kmeansSample"]:
        centroids, assignments, _ = kmeans(embeddings, int(clusters), streams["kmeansSeeding"])
    else:
        fit_rows = np.sort(streams["kmeansSample"].choice(n, int(p["kmeansSample"]), replace=False))
        centroids, _, _ = kmeans(embeddings[fit_rows], int(clusters), streams["kmeansSeeding"])
        c_sq = np.einsum("ij,ij->i", centroids, centroids)
        assignments = np.argmin(c_sq[None, :] - 2 * (embeddings @ centroids.T), axis=1)
    k = len(centroids)

    # Thresholds from a seeded sample of scored influences.
    sample = scored if len(scored) <= p["tauSample"] else \
        scored[streams["tauSample"].choice(len(scored), int(p["tauSample"]), replace=False)]
    values = influence[sample].astype(np.float64)
    tau = float(p["tau"]) if p["tau"] is not None else float(np.quantile(values, float(p["tauQuantile"])))
    alpha = float(p["alpha"]) if p["alpha"] is not None else 0.1 * float(values.std())
    c64 = centroids.astype(np.float64)
    c_sq = np.einsum("ij,ij->i", c64, c64)
    dist = np.sqrt(np.maximum(c_sq[:, None] + c_sq[None, :] - 2 * c64 @ c64.T, 0))
    np.fill_diagonal(dist, np.inf)
    radius = float(p["radius"]) if p["radius"] is not None else (float(np.median(dist.min(axis=1))) if k > 1 else 0.0)
    neighbours = []
    for i in range(k):
        near = np.flatnonzero(dist[i] < radius) if radius > 0 else np.zeros(0, dtype=int)
        neighbours.append((np.concatenate(([i], near)), np.concatenate(([1.0], 1 - dist[i, near] / radius))))
    arms = int(p["arms"]) if p["arms"] is not None else max(1, min(50, k // 4))
    max_rounds = int(p["maxRounds"]) if p["maxRounds"] is not None else math.inf

    # Read order of each cluster, slice sizes, estimation draws.
    order = [streams["clusterOrder"].permutation(np.flatnonzero(assignments == c)) for c in range(k)]
    sizes = np.array([len(o) for o in order])
    slice_size = [max(1, round_half_up(float(p["gamma"]) * s)) for s in sizes]
    draws_of = [max(2, round_half_up(float(p["bEst"]) * s)) for s in sizes]
    cursor = np.zeros(k, dtype=int)
    sums, counts, total = np.zeros(k), np.zeros(k), 0
    members, scores = [], []
    rounds, pulls, accepted = 0, 0, 0
    while len(members) < budget:
        open_arms = np.flatnonzero(cursor < sizes)
        if len(open_arms) == 0 or rounds == max_rounds:
            break
        n_i = counts[open_arms]
        mean = np.where(n_i > 0, sums[open_arms] / np.maximum(n_i, 1), 0.0)
        bonus = alpha * np.sqrt(2 * math.log(total) / (n_i + 1)) if total > 0 else 0.0
        ucb = mean + bonus
        pulled = open_arms[np.lexsort((open_arms, -ucb))[:arms]]
        for c in pulled:
            start = cursor[c]
            piece = order[c][start:start + slice_size[c]]
            cursor[c] += len(piece)
            pulls += 1
            with_score = piece[~np.isnan(influence[piece])]
            if len(with_score) == 0:
                continue
            draws = min(draws_of[c], len(with_score))
            picked = with_score[streams["estimation"].choice(len(with_score), draws, replace=False)]
            estimate = float(influence[picked].astype(np.float64).mean())
            reward = estimate - tau
            idx, w = neighbours[c]
            sums[idx] += reward * w
            counts[idx] += 1
            total += len(idx)
            if reward > 0:
                accepted += 1
                take = piece[:budget - len(members)]
                members.extend(int(r) for r in take)
                scores.extend(estimate if np.isnan(influence[r]) else float(influence[r]) for r in take)
            if len(members) == budget:
                break
        rounds += 1
    return np.array(members, dtype=np.int64), {
        "clusters": k, "arms": arms, "tau": tau, "alpha": alpha, "radius": radius, "rounds": rounds,
        "pulls": pulls, "acceptedPulls": accepted}


# ---------------------------------------------------------------------------------------------------
# Command line


def fail(message):
    print(f"numpy_reference: {message}", file=sys.stderr)
    sys.exit(2)


def parse_value(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def expect_params(params, defaults):
    """The selector's parameters: defaults overridden by --param; unknown keys are an error."""
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        fail(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(defaults)) or 'none'}")
    out = dict(defaults)
    out.update(params)
    return out


def load_matrix(path):
    a = np.load(path, allow_pickle=False)
    if a.ndim != 2 or a.dtype.kind != "f":
        fail(f"{path}: expected a 2-D float array, got {a.dtype} {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("selector", choices=SELECTORS)
    parser.add_argument("--pool-grads", nargs="+", required=True, help="pool gradients, one .npy per checkpoint")
    parser.add_argument("--lrs", help="learning rate of each checkpoint, comma-separated (default: equal)")
    parser.add_argument("--target-grads", nargs="+", default=[], help="target gradients, one .npy per checkpoint")
    parser.add_argument("--subtasks", help="subtask label of each target row, one per line (LESS)")
    parser.add_argument("--embeddings", help="embedding column .npy (Quad)")
    parser.add_argument("--budget", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--max-seconds", type=float, help="abort the selection after this many seconds")
    parser.add_argument("--out", required=True, help="result JSON")
    args = parser.parse_args(argv)

    params = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--param {item!r} is not key=value")
        params[key] = parse_value(value)
    if args.budget < 0:
        fail("the budget must not be negative")

    load_start = time.perf_counter()
    pool = [load_matrix(p) for p in args.pool_grads]
    targets = [load_matrix(p) for p in args.target_grads]
    embeddings = load_matrix(args.embeddings) if args.embeddings else None
    subtasks = None
    if args.subtasks:
        with open(args.subtasks, encoding="utf-8") as f:
            subtasks = [line.strip() for line in f.read().splitlines()]
        while subtasks and subtasks[-1] == "":
            subtasks.pop()
    load_seconds = time.perf_counter() - load_start

    n = pool[0].shape[0]
    if any(p.shape[0] != n for p in pool):
        fail("every --pool-grads file must have the same number of rows")
    if args.lrs:
        lrs = np.array([float(x) for x in args.lrs.split(",")], dtype=np.float64)
    else:
        lrs = np.ones(len(pool))
    if len(lrs) != len(pool) or (lrs < 0).any() or lrs.sum() <= 0:
        fail(f"--lrs needs {len(pool)} non-negative learning rates, not all zero")
    if args.selector in ("less", "gtp", "quad"):
        if len(targets) != len(pool) and not (args.selector == "quad" and targets):
            fail(f"{args.selector} needs one --target-grads file per --pool-grads file")
        for p, t in zip(pool, targets):
            if p.shape[1] != t.shape[1]:
                fail(f"pool dimension {p.shape[1]} differs from target dimension {t.shape[1]}")
    if subtasks is not None and targets and len(subtasks) != targets[0].shape[0]:
        fail(f"{len(subtasks)} subtask labels for {targets[0].shape[0]} target rows")

    deadline = Deadline(args.max_seconds)
    aborted = False
    start = time.perf_counter()
    try:
        if args.selector == "random":
            rows, diagnostics = select_random(n, args.budget, args.seed, params, deadline)
        elif args.selector == "less":
            rows, diagnostics = select_less(pool, targets, lrs, subtasks, args.budget, params, deadline)
        elif args.selector == "spice":
            rows, diagnostics = select_spice(pool, args.budget, params, deadline)
        elif args.selector == "gtp":
            rows, diagnostics = select_gtp(pool, targets, lrs, args.budget, args.seed, params, deadline)
        else:
            rows, diagnostics = select_quad(pool, targets, embeddings, args.budget, args.seed, params, deadline)
    except Aborted as stop:
        rows, diagnostics, aborted = stop.rows, stop.diagnostics, True
    seconds = time.perf_counter() - start

    result = {
        "selector": args.selector, "seconds": seconds, "load_seconds": load_seconds,
        "rows": [int(r) for r in rows], "n": n, "budget": args.budget, "aborted": aborted,
        "diagnostics": diagnostics,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f)
    print(json.dumps({k: result[k] for k in ("selector", "seconds", "load_seconds", "n", "budget", "aborted")}
                     | {"selected": len(result["rows"])}))


if __name__ == "__main__":
    main()
