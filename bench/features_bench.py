"""make bench-features: per-example projected gradients, side by side on one model, tokens and machine.

    python bench/features_bench.py --work DIR [--docs 512] [--layers 4] [--width 256] [--dim 8192]

Setup (not timed): a GPT-2-shaped model built from a config with a byte-level BPE tokenizer trained on the
corpus text (../shared/realbench/corpus.jsonl when present, else generated text), a catalog holding the
documents, and a one-epoch LoRA warmup (quadcat.features.warmup) whose checkpoint gives the Adam state.
Then each tool runs in its own process over the same documents, and this script samples the process
tree's RssAnon every 20 ms:

- floor:        one training step's forward + backward over the same batches (loss.backward on the LoRA
                parameters): the least any per-example method can cost;
- quadcat:      quadcat.features.collect (per-example gradients by hooks, Adam direction, sparse JL
                projection to --dim, written into the catalog): its batch loops (as the floor's and
                bergson's figures are loops), with the whole call (model loading, records, attach) beside;
- quadcat-dense: the same with the dense LESS/TRAK-compatible Rademacher projection;
- quadcat-loop: quadcat with per-example gradients by the batch-1 loop instead of hooks (why hooks);
- less-loop:    LESS's own loop (batch 1, Adam direction, a dense projection every 16 examples)
                (bench/baselines/less_loop.py);
- bergson:      `bergson build` (pip install bergson) on the same model and documents, where installed
                (bench/baselines/bergson_run.py; --bergson-python names its interpreter).
Prints a table of tokens/s, ratio to the floor and peak RssAnon, and writes DIR/features_bench.json.
"""
import argparse
import json
import numpy as np
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, os.fspath(HERE.parent / "python"))
REALBENCH = HERE.parent.parent / "shared" / "realbench" / "corpus.jsonl"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def documents(n: int):
    if REALBENCH.is_file():
        out = []
        with open(REALBENCH, encoding="utf-8") as file:
            for line in file:
                record = json.loads(line)
                out.append({"id": f"doc-{record['id']}", "text": record["text"]})
                if len(out) == n:
                    break
        return out, "realbench"
    sys.path.insert(0, os.fspath(HERE.parent / "python" / "tests"))
    from lm_fixtures import texts
    return [{"id": f"doc-{i}", "text": t} for i, t in enumerate(texts(n))], "generated"


def setup(args) -> dict:
    work = Path(args.work)
    marker = work / "setup.json"
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if saved.get("args") == _setup_args(args):
            return saved
    import shutil
    for name in ("model", "cat.quadcat", "warm", "docs.jsonl", "cat.quadcat-features"):
        shutil.rmtree(work / name, ignore_errors=True) if (work / name).is_dir() else (work / name).unlink(missing_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    docs, source = documents(args.docs)
    with open(work / "docs.jsonl", "w", encoding="utf-8") as file:
        for record in docs:
            file.write(json.dumps(record) + "\n")
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([d["text"] for d in docs], vocab_size=4096, min_frequency=2,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                  unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.save_pretrained(work / "model")
    torch.manual_seed(0)
    eos = tokenizer.eos_token_id
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=max(512, args.max_length), n_embd=args.width,
                        n_layer=args.layers, n_head=max(1, args.width // 64), bos_token_id=eos, eos_token_id=eos,
                        pad_token_id=eos)
    GPT2LMHeadModel(config).save_pretrained(work / "model")
    import quadcat
    from quadcat.features.warmup import warmup
    catalog = quadcat.Catalog(work / "cat.quadcat").create()
    catalog.ingest(work / "docs.jsonl", corpus="pool")
    report = warmup(catalog.path, corpus="pool", model=os.fspath(work / "model"), out=work / "warm", fraction=0.25,
                    epochs=1, lora_r=args.lora_r, lora_alpha=2 * args.lora_r, target_modules=["c_attn", "c_proj", "c_fc"],
                    learning_rate=1e-3, batch_size=8, gradient_accumulation=1, max_length=args.max_length, progress=False)
    saved = {"args": _setup_args(args), "source": source, "checkpoint": report.checkpoints[-1],
             "lora_parameters": report.trainable_parameters,
             "model_parameters": sum(p.numel() for p in GPT2LMHeadModel(config).parameters())}
    marker.write_text(json.dumps(saved, indent=1))
    return saved


def _setup_args(args) -> dict:
    return {k: getattr(args, k) for k in ("docs", "layers", "width", "max_length", "lora_r")}


# The tools, each run in a child process (python features_bench.py --run TOOL ...).

def run_floor(args, saved) -> dict:
    import torch
    from transformers import AutoTokenizer
    from quadcat.features.checkpoints import load_model_at
    from quadcat.features.per_example import causal_lm_losses
    from quadcat.features.text import Fields, TokenCounts, Tokenizing, collate
    work = Path(args.work)
    model = load_model_at(os.fspath(work / "model"), Path(saved["checkpoint"]), torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(work / "model")
    tokenizing = Tokenizing(tokenizer, Fields(), args.max_length)
    counts = TokenCounts()
    docs = [json.loads(line) for line in open(work / "docs.jsonl", encoding="utf-8")]
    examples = [tokenizing.example(i, d, counts) for i, d in enumerate(docs)]
    started = time.perf_counter()
    for begin in range(0, len(examples), args.batch_size):
        batch = collate(examples[begin:begin + args.batch_size], tokenizer.pad_token_id)
        model.zero_grad(set_to_none=True)
        causal_lm_losses(model, batch).sum().backward()
    seconds = time.perf_counter() - started
    return {"tool": "floor", "examples": len(examples), "tokens": counts.tokens, "seconds": seconds}


def run_quadcat(args, saved, projection: str, method: str = "auto") -> dict:
    import shutil
    import peft  # noqa: F401  imported before the clock starts, as the floor's are: throughput, not start-up
    import transformers  # noqa: F401
    import quadcat
    from quadcat.features.pipeline import collect
    work = Path(args.work)
    path = work / f"run-{projection}.quadcat"
    shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(Path(os.fspath(path) + "-features"), ignore_errors=True)
    catalog = quadcat.Catalog(path).create()
    catalog.ingest(work / "docs.jsonl", corpus="pool")
    report = collect(path, corpus="pool", model=os.fspath(work / "model"), checkpoints=[saved["checkpoint"]],
                     dim=args.dim, projection=projection, max_length=args.max_length, batch_size=args.batch_size,
                     progress=False, method=method)
    tool = {("sjlt", "auto"): "quadcat", ("rademacher", "auto"): "quadcat-dense", ("sjlt", "loop"): "quadcat-loop"}
    return {"tool": tool[(projection, method)], "examples": report.rows, "tokens": report.tokens,
            "seconds": report.compute_seconds, "whole_call_seconds": report.seconds, "method": report.method,
            "projection": report.projection}


def inner_products(args, saved, rows: int = 48) -> dict:
    """How well each projection keeps inner products of exact (unprojected) Adam directions of the bench
    model: over every pair of ``rows`` rows, |<Pa,Pb> - <a,b>| / (|a||b|), and the same for cosines."""
    import torch
    from transformers import AutoTokenizer
    from quadcat.features.checkpoints import load_adam_state, load_model_at
    from quadcat.features.per_example import PerExampleGradients, causal_lm_losses
    from quadcat.features.preconditioners import precondition
    from quadcat.features.projection import RademacherProjector, SparseSignProjector
    from quadcat.features.text import Fields, TokenCounts, Tokenizing, collate
    work = Path(args.work)
    checkpoint = Path(saved["checkpoint"])
    model = load_model_at(os.fspath(work / "model"), checkpoint, torch.float32)
    engine = PerExampleGradients(model, causal_lm_losses)
    state = load_adam_state(checkpoint, engine.parameters, model)
    tokenizer = AutoTokenizer.from_pretrained(work / "model")
    tokenizing = Tokenizing(tokenizer, Fields(), args.max_length)
    docs = [json.loads(line) for line in open(work / "docs.jsonl", encoding="utf-8")][:rows]
    exact = []
    for begin in range(0, rows, args.batch_size):
        examples = [tokenizing.example(i, d, TokenCounts()) for i, d in enumerate(docs[begin:begin + args.batch_size])]
        grads, _ = engine(collate(examples, tokenizer.pad_token_id))
        exact.append(torch.cat([precondition("adam", grads[p.name], p.name, state) for p in engine.parameters], dim=1))
    exact = torch.cat(exact).double()
    out = {}
    for name, projector in (("sjlt", SparseSignProjector(0, engine.n_params, args.dim)),
                            ("dense", RademacherProjector(0, engine.n_params, args.dim, cache_bytes=8 << 30))):
        projected = torch.zeros((rows, args.dim))
        projector.accumulate(projected, exact.float(), 0)
        projector.finish(projected)
        projected = projected.double()
        norms = exact.norm(dim=1)
        errors = ((projected @ projected.T) - (exact @ exact.T)).abs() / torch.outer(norms, norms)
        cos_exact = (exact @ exact.T) / torch.outer(norms, norms)
        pn = projected.norm(dim=1)
        cos_projected = (projected @ projected.T) / torch.outer(pn, pn)
        upper = torch.triu_indices(rows, rows, 1)
        out[name] = {"max_error": float(errors[upper[0], upper[1]].max()), "mean_error": float(errors[upper[0], upper[1]].mean()),
                     "max_cosine_error": float((cos_projected - cos_exact)[upper[0], upper[1]].abs().max())}
    out["jl_bound"] = float(np.sqrt(8 * np.log(rows * rows) / args.dim))
    out["rows"] = rows
    return out


def run_child(tool: str, args, python: str = sys.executable, command=None) -> dict:
    """Runs one tool in a child process, sampling the tree's RssAnon; returns its JSON line plus the peak."""
    if command is None:
        command = [python, os.fspath(Path(__file__).resolve()), "--run", tool, *sys.argv[1:]]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_anon(process.pid))
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, err = process.communicate()
    stop.set()
    thread.join()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        return {"tool": tool, "error": (err or out).strip().splitlines()[-1:] or ["no output"]}
    result = json.loads(lines[-1])
    result["peak_rss_anon_mb"] = round(peak[0] / 1024, 1)
    return result


def _tree_anon(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--docs", type=int, default=512)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dim", type=int, default=8192)
    parser.add_argument("--less-docs", type=int, default=64, help="documents LESS's loop runs over (it is slow)")
    parser.add_argument("--tools", default="floor,quadcat,quadcat-dense,quadcat-loop,less-loop,bergson")
    parser.add_argument("--bergson-python", default=os.environ.get("BERGSON_PYTHON", ""),
                        help="the Python interpreter of an environment with bergson installed")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    saved = setup(args)
    if args.run:
        result = {"floor": lambda: run_floor(args, saved), "quadcat": lambda: run_quadcat(args, saved, "sjlt"),
                  "quadcat-dense": lambda: run_quadcat(args, saved, "rademacher"),
                  "quadcat-loop": lambda: run_quadcat(args, saved, "sjlt", "loop")}[args.run]()
        print(json.dumps(result))
        return
    work = Path(args.work)
    results = []
    for tool in args.tools.split(","):
        if tool in ("floor", "quadcat", "quadcat-dense", "quadcat-loop"):
            results.append(run_child(tool, args))
        elif tool == "less-loop":
            results.append(run_child(tool, args, command=[
                sys.executable, os.fspath(HERE / "baselines" / "less_loop.py"), "--model", os.fspath(work / "model"),
                "--data", os.fspath(work / "docs.jsonl"), "--max-length", str(args.max_length), "--dim", str(args.dim),
                "--limit", str(args.less_docs), "--adapter", saved["checkpoint"],
                "--optimizer", os.fspath(Path(saved["checkpoint"]) / "optimizer.pt")]))
        elif tool == "bergson":
            if not args.bergson_python:
                results.append({"tool": "bergson", "error": ["not run: give --bergson-python (a venv with pip install bergson)"]})
                continue
            results.append(run_child(tool, args, command=[
                args.bergson_python, os.fspath(HERE / "baselines" / "bergson_run.py"), "--model", os.fspath(work / "model"),
                "--data", os.fspath(work / "docs.jsonl"), "--max-length", str(args.max_length), "--dim", str(args.dim),
                "--limit", str(args.docs), "--adapter", saved["checkpoint"]]))
    floor = next((r for r in results if r.get("tool") == "floor" and "seconds" in r), None)
    print(f"model: GPT-2 shape, {args.layers} layers x {args.width}, {saved['model_parameters']:,} parameters, "
          f"LoRA r={args.lora_r} ({saved['lora_parameters']:,} trainable); {saved['source']} text, "
          f"max length {args.max_length}, batch {args.batch_size}, dim {args.dim}; torch threads {_threads()}")
    print(f"{'tool':<14} {'examples':>8} {'tokens':>8} {'seconds':>8} {'tokens/s':>9} {'x floor':>8} {'RssAnon MB':>10}")
    for r in results:
        if "error" in r:
            print(f"{r['tool']:<14} error: {' '.join(r['error'])}")
            continue
        rate = r["tokens"] / r["seconds"]
        r["tokens_per_s"] = round(rate, 1)
        ratio = (floor["tokens"] / floor["seconds"]) / rate if floor else float("nan")
        r["slowdown_vs_floor"] = round(ratio, 2)
        whole = f"   (whole call {r['whole_call_seconds']:.2f} s)" if "whole_call_seconds" in r else ""
        print(f"{r['tool']:<14} {r['examples']:>8} {r['tokens']:>8} {r['seconds']:>8.2f} {rate:>9.0f} {ratio:>8.2f} "
              f"{r.get('peak_rss_anon_mb', 0):>10.0f}{whole}")
    quality = inner_products(args, saved)
    print(f"inner products of exact Adam directions, {quality['rows']} rows, every pair, relative to |a||b| "
          f"(JL bound for all pairs {quality['jl_bound']:.3f}):")
    for name in ("sjlt", "dense"):
        q = quality[name]
        print(f"  {name:<6} max error {q['max_error']:.4f}, mean {q['mean_error']:.4f}; cosines max error {q['max_cosine_error']:.4f}")
    (work / "features_bench.json").write_text(json.dumps({"setup": saved, "results": results, "inner_products": quality}, indent=1))


def _threads() -> int:
    import torch
    return torch.get_num_threads()


if __name__ == "__main__":
    main()
