#!/usr/bin/env python3
"""Bergson (EleutherAI/bergson, ``bergson build``) as a benchmark baseline.

Usage (any python 3 can run the outer driver; bergson runs in its own venv):

    python bergson_run.py --model DIR --data FILE.jsonl --max-length L \
        --dim 8192 --limit N [--adapter DIR] [--optimizer FILE] \
        [--projection-target per_module|global] [--per-module-dim P] \
        [--token-batch-size T] [--max-batch-size B] \
        [--bergson-python /tmp/bergson-venv/bin/python]

How it works
------------
The driver starts ``<bergson venv>/bin/python bergson_run.py --inner ...`` as
a subprocess.  The inner process, running in bergson's own environment:

1. tokenizes the ``text`` field of the first N records with the model's
   tokenizer, truncated to ``--max-length`` (exactly as less_loop.py does),
   and saves them with ``datasets.save_to_disk`` as a pre-tokenized dataset
   (columns ``input_ids``, ``length``), which bergson accepts as is.  This
   keeps the tokens identical to the LESS baseline; bergson's own
   tokenization (``--truncation true``) truncates to
   ``min(model max length, --token_batch_size)``, which would tie the
   truncation length to the batch size;
2. runs the real bergson CLI entry point (``bergson.__main__.main`` with
   ``sys.argv = ["bergson", "build", ...]``) in-process.  On a CPU-only
   machine bergson runs a single worker in-process (no spawn), so wrapping
   ``bergson.build.collect_gradients`` with a timer measures the gradient
   collection itself (hook setup, projection matrices, forward/backward,
   writing gradients.bin) and excludes model loading and data preparation.
   The whole subprocess wall time is reported as well.

The outer driver samples RssAnon of the subprocess tree (sum over the
process and its descendants, /proc/PID/status, every 50 ms), and reports the
tree's CPU seconds.

Projection: bergson's default ``projection_target=per_module`` is LoGra-style
(double-sided): each tracked module's [out, in] gradient is projected to a
[p, p] matrix, so one example has ``n_modules * p**2`` features (8192 would
mean 8192**2 per module; don't!).  We therefore pick
``p = round(sqrt(dim / n_modules))`` unless ``--per-module-dim`` is given,
and report the resulting total.  ``projection_target=global`` gives exactly
``dim`` features (each module's flattened gradient times its own dense
rademacher block, summed), but regenerates the dense blocks with a CPU Philox
generator on every batch and is impractically slow on CPU.

Prints one JSON line: {"tool": "bergson", "examples", "tokens", "seconds",
"tokens_per_s", "peak_rss_anon_mb", ...}.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

DEFAULT_BERGSON_PYTHON = os.environ.get("BERGSON_PYTHON", sys.executable)


# --------------------------------------------------------------------------
# Outer driver: process-tree RssAnon sampling
# --------------------------------------------------------------------------
def _children(pid):
    """Direct children of ``pid`` (Linux /proc)."""
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return kids


def _tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def _rss_anon_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeRssAnonSampler:
    """Peak of the summed RssAnon of a process tree, sampled every 50 ms."""

    def __init__(self, pid, interval=0.05):
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = sum(_rss_anon_kb(p) for p in _tree(self.pid))
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()


def outer(args, passthrough):
    work = tempfile.mkdtemp(prefix="bergson-bench-")
    result_file = os.path.join(work, "inner.json")
    cmd = [args.bergson_python, os.path.abspath(__file__), "--inner",
           "--work", work, "--result", result_file] + passthrough
    env = dict(os.environ)
    # Everything is local: never touch the HF hub.
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU run, as the LESS baseline
    env.setdefault("TQDM_DISABLE", "1")
    log_path = os.path.join(work, "bergson.log")
    t0 = time.perf_counter()
    before = os.times()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        sampler = TreeRssAnonSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        sampler.stop()
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if rc != 0 or not os.path.exists(result_file):
        with open(log_path) as f:
            sys.stderr.write(f.read()[-6000:])
        print(json.dumps({"tool": "bergson", "error": f"bergson exited with {rc}", "log": log_path}))
        sys.exit(1)
    with open(result_file) as f:
        inner_res = json.load(f)
    res = {
        "tool": "bergson",
        "examples": inner_res["examples"],
        "tokens": inner_res["tokens"],
        "seconds": round(inner_res["collect_seconds"], 3),
        "tokens_per_s": round(inner_res["tokens"] / inner_res["collect_seconds"], 2),
        "peak_rss_anon_mb": round(sampler.peak_kb / 1024, 1),
        "timed": "collect_gradients (excludes model load + tokenization)",
        "process_wall_seconds": round(wall, 3),
        "process_cpu_seconds": round(cpu, 3),
        "bergson_total_processed": inner_res.get("total_processed"),
        "projection_target": inner_res["projection_target"],
        "per_module_dim": inner_res["per_module_dim"],
        "n_modules": inner_res["n_modules"],
        "feature_dim": inner_res["feature_dim"],
        "token_batch_size": inner_res["token_batch_size"],
        "adapter": inner_res["adapter"],
        "optimizer_state": inner_res["optimizer_state"],
        "bergson_version": inner_res["bergson_version"],
        "torch_threads": inner_res["torch_threads"],
    }
    if args.keep:
        res["run_dir"] = inner_res["run_dir"]
        res["log"] = log_path
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(res))


# --------------------------------------------------------------------------
# Inner process (runs inside bergson's venv)
# --------------------------------------------------------------------------
def inner(args):
    import importlib.metadata

    import torch
    from datasets import Dataset
    from transformers import AutoConfig, AutoTokenizer

    import bergson.build
    from bergson.__main__ import main as bergson_main

    if args.threads:
        torch.set_num_threads(args.threads)

    # 1. tokens: same as less_loop.py (first N records, truncation to L)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    ids = []
    with open(args.data) as f:
        for line in f:
            if len(ids) >= args.limit:
                break
            if line.strip():
                t = tokenizer(json.loads(line)["text"], truncation=True,
                              max_length=args.max_length)["input_ids"]
                if len(t) >= 2:  # same filter as less_loop.py
                    ids.append(t)
    data_dir = os.path.join(args.work, "data")
    Dataset.from_dict({"input_ids": ids, "length": [len(t) for t in ids]}).save_to_disk(data_dir)
    tokens = sum(len(t) for t in ids)

    # 2. bergson options
    config = AutoConfig.from_pretrained(args.model)
    model_max = min(getattr(config, "max_position_embeddings", 10**9) or 10**9,
                    getattr(tokenizer, "model_max_length", 10**9) or 10**9)
    # bergson refuses a token batch larger than the model's max length
    token_batch_size = args.token_batch_size or min(2048, model_max)

    n_modules = count_target_modules(args)
    if args.projection_target == "global":
        per_module_dim, feature_dim = None, args.dim
        proj_dim = args.dim
    else:
        per_module_dim = args.per_module_dim or max(1, round(math.sqrt(args.dim / n_modules)))
        feature_dim = n_modules * per_module_dim ** 2
        proj_dim = per_module_dim

    run_dir = os.path.join(args.work, "run")
    # A PEFT adapter directory is passed as --model: bergson reads
    # adapter_config.json and loads base_model_name_or_path under it.
    argv = ["bergson", "build", run_dir,
            "--model", args.adapter or args.model,
            "--tokenizer", args.model,
            "--dataset", data_dir,
            "--precision", args.precision,
            "--projection_dim", str(proj_dim),
            "--projection_target", args.projection_target,
            "--token_batch_size", str(token_batch_size),
            "--loss_reduction", args.loss_reduction,
            "--overwrite", "true"]
    if args.max_batch_size:
        argv += ["--max_batch_size", str(args.max_batch_size)]
    if args.optimizer:
        argv += ["--optimizer_state", args.optimizer]

    # 3. time collect_gradients (called by bergson.build.build_worker)
    timing = {}
    real_collect = bergson.build.collect_gradients

    def timed_collect(*a, **kw):
        t0 = time.perf_counter()
        try:
            return real_collect(*a, **kw)
        finally:
            timing["collect_seconds"] = time.perf_counter() - t0

    bergson.build.collect_gradients = timed_collect
    sys.argv = argv
    print("running:", " ".join(argv), flush=True)
    bergson_main()

    total_processed = None
    tp = os.path.join(run_dir, "total_processed.pt")
    if os.path.exists(tp):
        total_processed = int(torch.load(tp))
    info = json.load(open(os.path.join(run_dir, "info.json")))
    feature_dim = sum(info.get("grad_sizes", {}).values()) or feature_dim
    with open(args.result, "w") as f:
        json.dump({
            "examples": len(ids), "tokens": tokens,
            "collect_seconds": timing["collect_seconds"],
            "total_processed": total_processed,
            "projection_target": args.projection_target,
            "per_module_dim": per_module_dim, "n_modules": n_modules,
            "feature_dim": feature_dim, "token_batch_size": token_batch_size,
            "adapter": bool(args.adapter), "optimizer_state": bool(args.optimizer),
            "bergson_version": importlib.metadata.version("bergson"),
            "torch_threads": torch.get_num_threads(), "run_dir": run_dir,
        }, f)


def count_target_modules(args):
    """Number of modules bergson will track: the LoRA modules of an adapter,
    else the Linear / Conv1D modules bergson's LayerAdapter supports, minus
    the output head (bergson hooks ``model.base_model`` only).  Counted on a
    meta-device copy, so nothing is allocated."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from bergson.gradients import LayerAdapter

    config = AutoConfig.from_pretrained(args.model)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    if args.adapter:
        from peft import PeftConfig, get_peft_model

        model = get_peft_model(model, PeftConfig.from_pretrained(args.adapter))
        from bergson.utils.worker_utils import extract_peft_target_modules

        return len(extract_peft_target_modules(model))
    # bergson collects from model.base_model, i.e. without the LM head
    return sum(1 for m in model.base_model.modules()
               if isinstance(m, LayerAdapter.supported_modules))


# --------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description="bergson build baseline")
    ap.add_argument("--model", required=True, help="local HF model directory")
    ap.add_argument("--data", required=True, help="JSONL file with a 'text' field")
    ap.add_argument("--max-length", type=int, default=2048)
    ap.add_argument("--dim", type=int, default=8192,
                    help="target total feature dim (see per_module note)")
    ap.add_argument("--limit", type=int, default=64, help="first N records")
    ap.add_argument("--adapter", default=None, help="PEFT adapter directory "
                    "(adapter_config.json must name the base model dir)")
    ap.add_argument("--optimizer", default=None,
                    help="optimizer state for bergson --optimizer_state "
                    "(bergson normalizes by the 2nd moment only)")
    ap.add_argument("--projection-target", default="per_module",
                    choices=["per_module", "global"])
    ap.add_argument("--per-module-dim", type=int, default=None,
                    help="override p of the per-module p x p projection")
    ap.add_argument("--token-batch-size", type=int, default=None,
                    help="bergson --token_batch_size (default min(2048, model max))")
    ap.add_argument("--max-batch-size", type=int, default=None,
                    help="bergson --max_batch_size (1 = one example per step)")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--loss-reduction", default="mean", choices=["mean", "sum"],
                    help="mean matches LESS / HF loss (bergson's default is sum)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--bergson-python", default=DEFAULT_BERGSON_PYTHON)
    ap.add_argument("--keep", action="store_true", help="keep the run dir + log")
    # inner-process plumbing
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.inner:
        inner(args)
    else:
        passthrough = [a for a in sys.argv[1:] if a != "--keep"]
        outer(args, passthrough)


if __name__ == "__main__":
    main()
