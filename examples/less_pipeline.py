#!/usr/bin/env python3
"""End to end: does a selected 5% of a pool teach a model the target better than a random 5%?

The whole LESS workflow on real text, with nothing downloaded (../shared/realbench: a 12,000-chunk pool in
8 domains, and 400 chunks of held-out Python Library Reference pages as the target):

  1. split the target's chunks by source page into a validation half (its gradients steer the selection)
     and a test half (only ever evaluated on; no page is on both sides);
  2. train a byte-level BPE tokenizer and a small GPT-2 from scratch on the corpus text: the base model;
  3. ingest the pool into a catalog;
  4. LESS's LoRA warmup on a random 5% of the pool (one checkpoint per epoch);
  5. features: Adam-preconditioned projected gradients of every pool row at every checkpoint, the
     validation half's gradients as target "python", and the LM's last-token embeddings;
  6. 5% subsets: LESS, LESS with near-duplicates refused, GTP, the quality-weighted DPP, Quad, random
     (and the whole pool as a reference);
  7. a short fine-tune of the base model on each subset, with several seeds (same steps, batch and
     learning rate for every subset), and the mean token loss on the test half;
  8. the losses recorded in the catalog (`quadcat metric`), ranked with `compare --sort`, a table and a
     chart in WORK/results.md, and `quadcat report`'s HTML page of every subset.

    python examples/less_pipeline.py --work /tmp/example            # the CPU size (under 20 min on 2 busy cores)
    python examples/less_pipeline.py --work /tmp/example --quick    # the test size (about a minute)
    python examples/less_pipeline.py --work /tmp/ex --device cuda --base-model ./Qwen2.5-0.5B \
        --pool-size 12000 --max-length 512 --dim 8192 --finetune lora --dtype bf16        # a real model

Every stage leaves its output in WORK and is skipped when rerun with the same WORK (the fine-tunes'
losses are cached per subset and seed), so an interrupted run continues; `--fresh` starts over.
Nothing is tuned on the test half: the learning rates and step counts below were fixed beforehand.
"""
import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
REALBENCH = HERE.parent.parent / "shared" / "realbench"
TARGET_DOMAIN = "python_docs"   # the pool's rows from the target's domain (labels: only read for the report)
NEAR_TARGET = "pydoc"           # stdlib docstrings: near the target


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--work", required=True, help="working directory (model, catalog, results)")
    p.add_argument("--data", default=os.fspath(REALBENCH), help="the realbench folder (corpus.jsonl, target_val.jsonl)")
    p.add_argument("--quick", action="store_true", help="the test size: tiny model, 400-row pool, 1 seed, a few steps")
    p.add_argument("--fresh", action="store_true", help="remove WORK first instead of continuing in it")
    p.add_argument("--seeds", type=int, default=3, help="fine-tune seeds (and selection seeds for random and quad)")
    p.add_argument("--device", default=None, help="torch device (default cuda when there is one, else cpu)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1 is fastest on a busy 2-core machine; raise it on an idle one)")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32", help="warmup, features and fine-tunes")
    # The pool.
    p.add_argument("--pool-size", type=int, default=3000,
                   help="rows of corpus.jsonl ingested as the pool (a fixed hash sample; 12000 = all of it)")
    p.add_argument("--budget", default="5%", help="subset size: a share of the pool or a row count")
    # The base model (trained here unless --base-model names one).
    p.add_argument("--base-model", help="an existing HF causal LM directory to use instead of training one")
    p.add_argument("--vocab", type=int, default=2048, help="BPE vocabulary of the base model's tokenizer")
    p.add_argument("--model-layers", type=int, default=2)
    p.add_argument("--model-width", type=int, default=128)
    p.add_argument("--model-heads", type=int, default=4)
    p.add_argument("--max-length", type=int, default=128, help="context and truncation length, in tokens")
    p.add_argument("--base-docs", type=int, default=0, help="corpus docs the tokenizer and base model see (0: all)")
    p.add_argument("--base-steps", type=int, default=200, help="base training steps (packed blocks of --max-length)")
    p.add_argument("--base-batch", type=int, default=16)
    p.add_argument("--base-lr", type=float, default=2e-3)
    # Warmup and features.
    p.add_argument("--warmup-epochs", type=int, default=2, help="LoRA warmup epochs = gradient checkpoints")
    p.add_argument("--warmup-lr", type=float, default=1e-3, help="(LESS's 2e-5 is for 7B models)")
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-alpha", type=int, default=16)
    p.add_argument("--dim", type=int, default=2048, help="projected gradient dimension")
    p.add_argument("--feature-batch", type=int, default=16)
    p.add_argument("--dedup", default="emb:0.99", help="LESS --dedup: COLUMN[@CKPT]:COSINE")
    # Fine-tunes.
    p.add_argument("--finetune", choices=["full", "lora"], default="full", help="full fine-tune, or LoRA (big models)")
    p.add_argument("--ft-steps", type=int, default=40)
    p.add_argument("--ft-batch", type=int, default=8)
    p.add_argument("--ft-lr", type=float, default=5e-4)
    p.add_argument("--test-rows", type=int, default=0, help="evaluate on at most this many test rows (0: all)")
    args = p.parse_args(argv)
    if args.quick:  # small enough for a pytest: every stage runs, nothing means much
        for key, value in dict(pool_size=400, base_docs=800, vocab=400, model_layers=1, model_width=32, model_heads=2, max_length=48,
                               base_steps=8, base_batch=8, warmup_epochs=2, dim=256, ft_steps=3, ft_batch=4,
                               test_rows=40, seeds=1).items():
            setattr(args, key, value)
    return args


# Small helpers.

class Stages:
    """Wall time and load average of every stage, printed as it goes."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}
        self.load: Dict[str, List[float]] = {}
        self.started = time.perf_counter()

    def run(self, name: str, function, *args, **kwargs):
        print(f"\n== {name}", flush=True)
        t = time.perf_counter()
        result = function(*args, **kwargs)
        self.seconds[name] = round(time.perf_counter() - t, 1)
        self.load[name] = [round(x, 2) for x in os.getloadavg()]
        print(f"   {name}: {self.seconds[name]:.1f} s (load average {self.load[name][0]:.2f})", flush=True)
        return result

    @property
    def total(self) -> float:
        return round(time.perf_counter() - self.started, 1)


def read_jsonl(path: Path) -> List[Dict[str, Any]]:
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def write_jsonl(path: Path, records: Sequence[Dict[str, Any]]) -> Path:
    with open(path, "w", encoding="utf-8") as file:
        for record in records:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


# 1. The target's split and the pool.

def split_target(args: argparse.Namespace, work: Path) -> Dict[str, Any]:
    """Validation half and test half of target_val.jsonl, by source page: a page's chunks all go to the side
    the page name's hash picks, so no page is on both sides."""
    rows = read_jsonl(Path(args.data) / "target_val.jsonl")
    val = [r for r in rows if stable_hash("page:" + r["source"]) % 2 == 0]
    test = [r for r in rows if stable_hash("page:" + r["source"]) % 2 == 1]
    assert not ({r["source"] for r in val} & {r["source"] for r in test})
    if args.test_rows:
        test = test[:args.test_rows]
    write_jsonl(work / "target_validation.jsonl", val)
    write_jsonl(work / "target_test.jsonl", test)
    sizes = {"validation_rows": len(val), "validation_pages": len({r["source"] for r in val}),
             "test_rows": len(test), "test_pages": len({r["source"] for r in test})}
    print(f"   target split by page: validation {sizes['validation_rows']} rows from {sizes['validation_pages']} pages, "
          f"test {sizes['test_rows']} rows from {sizes['test_pages']} pages (held out)")
    return sizes


def write_pool(args: argparse.Namespace, work: Path) -> Dict[str, Any]:
    """The pool: all of corpus.jsonl, or the ``--pool-size`` rows with the smallest hashes (a fixed sample,
    in corpus order). A planted duplicate hashes as its original does, so the pairs stay together and the
    sample has its share of them."""
    corpus = read_jsonl(Path(args.data) / "corpus.jsonl")
    if args.pool_size < len(corpus):
        def key(i: int) -> tuple:
            original = corpus[i].get("dup_of")
            return (stable_hash(f"row:{corpus[i]['id'] if original is None else original}"), i)
        keep = set(sorted(range(len(corpus)), key=key)[:args.pool_size])
        pool = [r for i, r in enumerate(corpus) if i in keep]
    else:
        pool = corpus
    write_jsonl(work / "pool.jsonl", pool)
    domains: Dict[str, int] = {}
    for r in pool:
        domains[r["domain"]] = domains.get(r["domain"], 0) + 1
    print(f"   pool: {len(pool):,} of {len(corpus):,} corpus rows; {domains.get(TARGET_DOMAIN, 0)} {TARGET_DOMAIN}, "
          f"{sum(1 for r in pool if r.get('dup_of') is not None)} planted duplicates")
    return {"rows": len(pool), "domains": domains, "corpus_rows": len(corpus)}


# 2. The base model, from scratch.

def train_base(args: argparse.Namespace, work: Path) -> Dict[str, Any]:
    """A byte-level BPE tokenizer and a GPT-2 trained from a config on the whole corpus's text (packed
    blocks of ``--max-length`` tokens, AdamW, warmup then cosine decay); saved with save_pretrained."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast
    out = work / "base"
    if (out / "DONE").is_file():
        print(f"   reusing {out}")
        return json.loads((out / "DONE").read_text())
    texts = [r["text"] for r in read_jsonl(Path(args.data) / "corpus.jsonl")]
    if args.base_docs:
        texts = texts[:args.base_docs]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=args.vocab, min_frequency=2, special_tokens=["<|endoftext|>"],
                            show_progress=False)
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                  unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    eos = tokenizer.eos_token_id
    stream: List[int] = []
    for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        stream.extend(ids + [eos])
    n_blocks = len(stream) // args.max_length
    blocks = torch.tensor(stream[:n_blocks * args.max_length]).view(n_blocks, args.max_length)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=args.max_length, n_embd=args.model_width,
                        n_layer=args.model_layers, n_head=args.model_heads, bos_token_id=eos, eos_token_id=eos,
                        pad_token_id=eos, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2LMHeadModel(config).to(args.device)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"   tokenizer: {len(tokenizer):,} tokens; corpus {len(stream):,} tokens ({len(stream) / len(texts):.0f} per doc); "
          f"model {args.model_layers} x {args.model_width}, {parameters / 1e6:.2f}M parameters; "
          f"{args.base_steps} steps of {args.base_batch} x {args.max_length} tokens "
          f"({args.base_steps * args.base_batch / n_blocks:.2f} epochs)")
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.base_lr, weight_decay=0.01, betas=(0.9, 0.95))
    schedule = _warmup_cosine(optimizer, args.base_steps)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(n_blocks, generator=generator)
    model.train()
    losses = []
    for step in range(args.base_steps):
        index = order[(torch.arange(args.base_batch) + step * args.base_batch) % n_blocks]
        batch = blocks[index].to(args.device)
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if (step + 1) % max(1, args.base_steps // 6) == 0 or step + 1 == args.base_steps:
            print(f"   step {step + 1}/{args.base_steps}: loss {statistics.fmean(losses[-20:]):.3f}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info = {"parameters": parameters, "tokens_trained": args.base_steps * args.base_batch * args.max_length,
            "corpus_tokens": len(stream), "final_loss": round(statistics.fmean(losses[-20:]), 4), "vocab": len(tokenizer)}
    (out / "DONE").write_text(json.dumps(info))
    return info


def _warmup_cosine(optimizer, steps: int, warmup: float = 0.05):
    import torch
    ramp = max(1, int(steps * warmup))

    def factor(step: int) -> float:
        if step < ramp:
            return (step + 1) / ramp
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - ramp) / max(1, steps - ramp)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# 3-5. Catalog, warmup, features.

def build_catalog(args: argparse.Namespace, work: Path):
    import quadcat
    cat = quadcat.Catalog(work / "cat.quadcat")
    if (work / "cat.quadcat").is_dir():
        print("   reusing the catalog")
        return cat
    cat.create()
    report = cat.ingest(work / "pool.jsonl", corpus="pool", index_fields=["domain"])
    print(f"   ingested {report.rows_added:,} rows in {report.seconds:.2f} s; {report.duplicate_text_rows} rows repeat "
          "another's text exactly")
    return cat


def run_warmup(args: argparse.Namespace, work: Path, model_dir: str) -> List[str]:
    from quadcat.features.warmup import warmup
    report = warmup(work / "cat.quadcat", corpus="pool", model=model_dir, out=work / "warmup", fraction=0.05,
                    epochs=args.warmup_epochs, seed=0, lora_r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=0.0,
                    learning_rate=args.warmup_lr, batch_size=8, gradient_accumulation=2, max_length=args.max_length,
                    dtype=args.dtype, progress=False)
    print(f"   warmup on {report.rows} rows ({report.subset}), {report.epochs} epochs, "
          f"{report.trainable_parameters:,} LoRA parameters{', resumed' if report.resumed_from else ''}: "
          + ", ".join(Path(c).name for c in report.checkpoints))
    return report.checkpoints


def run_features(args: argparse.Namespace, work: Path, cat, model_dir: str, checkpoints: List[str]) -> Dict[str, Any]:
    from quadcat.features.pipeline import collect
    if any(t.name == "python" for t in cat.targets()):
        print("   reusing the catalog's features")
        return {}
    report = collect(work / "cat.quadcat", corpus="pool", model=model_dir, checkpoints=checkpoints, target="python",
                     validation=work / "target_validation.jsonl", embed="lm", dim=args.dim, max_length=args.max_length,
                     batch_size=args.feature_batch, dtype=args.dtype, device=args.device,
                     progress=sys.stderr.isatty())
    print(f"   {report.rows:,} pool rows x {len(report.checkpoints)} checkpoints + {report.validation_rows} validation rows: "
          f"{report.tokens:,} tokens, {report.tokens_per_second:,.0f} tokens/s, method {report.method}, "
          f"{report.truncated_rows} rows truncated to {args.max_length} tokens; columns {', '.join(report.columns)}")
    return {"tokens": report.tokens, "tokens_per_second": report.tokens_per_second, "truncated_rows": report.truncated_rows,
            "projection": report.projection}


def run_kfac_features(args: argparse.Namespace, work: Path, cat, model_dir: str, checkpoints: List[str]) -> Dict[str, Any]:
    """Quad's influence as its paper computes it: the last checkpoint's gradients through a K-FAC inverse
    Gauss-Newton (``--preconditioner kfac``), a second gradient column ``kfac`` beside LESS's Adam
    directions, with the target's plain gradients under the same name."""
    from quadcat.features.pipeline import collect
    if any(c.name == "kfac" for c in cat.info().corpus("pool").columns):
        print("   reusing the catalog's K-FAC features")
        return {}
    report = collect(work / "cat.quadcat", corpus="pool", model=model_dir, checkpoints=checkpoints[-1:], target="python",
                     validation=work / "target_validation.jsonl", preconditioner="kfac", gradient_column="kfac",
                     lr=1.0, dim=args.dim, max_length=args.max_length, batch_size=args.feature_batch, dtype=args.dtype,
                     device=args.device, progress=sys.stderr.isatty())
    print(f"   K-FAC influence features: {report.tokens:,} tokens, {report.tokens_per_second:,.0f} tokens/s")
    return {"tokens": report.tokens, "tokens_per_second": report.tokens_per_second}


# 6. Selections.

def select_all(args: argparse.Namespace, cat) -> Dict[str, List[Any]]:
    """Subset versions by selector: one for the deterministic selectors, one per seed for random and quad."""
    existing = {s.name: s for s in cat.subsets()}

    def select(name: str, **kwargs):
        if name in existing:
            return existing[name]
        t = time.perf_counter()
        subset = cat.select(corpus="pool", name=name, **kwargs)
        print(f"   {subset.reference}: {len(subset)} rows in {time.perf_counter() - t:.1f} s")
        return subset

    seeds = range(args.seeds)
    column, cosine = args.dedup.rsplit(":", 1)
    return {
        "full pool": [select("full", selector="random", budget="100%")],
        "random": [select(f"random-s{s}", selector="random", budget=args.budget, seed=s) for s in seeds],
        "LESS": [select("less", selector="less", target="python", budget=args.budget)],
        "LESS --dedup": [select("less-dedup", selector="less", target="python", budget=args.budget,
                                dedup=(column, float(cosine)))],
        "GTP": [select("gtp", selector="gtp", target="python", budget=args.budget)],
        "DPP": [select("dpp", selector="dpp", target="python", budget=args.budget)],
        "Quad": [select(f"quad-s{s}", selector="quad", target="python", budget=args.budget, seed=s) for s in seeds],
        "Quad (K-FAC)": [select(f"quad-kfac-s{s}", selector="quad", target="python", budget=args.budget, seed=s,
                                gradient_column="kfac") for s in seeds],
    }


# 7. Fine-tunes and the held-out loss.

def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> List[List[int]]:
    eos = tokenizer.eos_token_id
    return [(ids + [eos])[:max_length] for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def pad(examples: Sequence[List[int]], pad_id: int, device: str):
    import torch
    width = max(len(e) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, :len(e)] = torch.tensor(e)
        labels[i, :len(e)] = torch.tensor(e)
        mask[i, :len(e)] = 1
    return ids.to(device), mask.to(device), labels.to(device)


def load_model(args: argparse.Namespace, model_dir: str):
    import torch
    from transformers import AutoModelForCausalLM
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(args.device)
    if args.finetune == "lora":
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=0.0,
                                                 target_modules="all-linear", task_type="CAUSAL_LM"))
    return model


def test_loss(model, test: List[List[int]], pad_id: int, device: str, batch: int = 32) -> float:
    """Mean next-token loss over every token of the test half (token-weighted, in nats)."""
    import torch
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(test), batch):
            ids, mask, labels = pad(test[i:i + batch], pad_id, device)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            target = labels[:, 1:]
            nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                    ignore_index=-100, reduction="sum")
            total += nll.item()
            count += int((target != -100).sum())
    return total / count


def finetune(args: argparse.Namespace, model_dir: str, train: List[List[int]], seed: int, pad_id: int):
    """The same short fine-tune for every subset: ``--ft-steps`` steps of ``--ft-batch`` rows drawn in a
    seeded order (epoch after epoch), AdamW at ``--ft-lr`` with a 10% warmup and linear decay."""
    import torch
    torch.manual_seed(seed)
    model = load_model(args, model_dir)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.ft_lr, weight_decay=0.0)
    ramp = max(1, args.ft_steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / ramp if s < ramp else max(0.0, (args.ft_steps - s) / (args.ft_steps - ramp)))
    generator = torch.Generator().manual_seed(seed)
    order: List[int] = []
    for step in range(args.ft_steps):
        while len(order) < args.ft_batch:
            order += torch.randperm(len(train), generator=generator).tolist()
        chosen, order = order[:args.ft_batch], order[args.ft_batch:]
        ids, mask, labels = pad([train[i] for i in chosen], pad_id, args.device)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
    return model


def evaluate_all(args: argparse.Namespace, work: Path, model_dir: str, subsets: Dict[str, List[Any]],
                 stages: Stages) -> Dict[str, Any]:
    """Fine-tunes every subset with every seed and measures the test half's loss; cached in
    WORK/finetunes.json by subset version and seed."""
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    test = tokenize(tokenizer, [r["text"] for r in read_jsonl(work / "target_test.jsonl")], args.max_length)
    cache_path = work / "finetunes.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    seconds = {"fine-tune": 0.0, "evaluation": 0.0}

    def measured(key: str, train: List[List[int]], seed: int) -> float:
        if key not in cache:
            t = time.perf_counter()
            model = finetune(args, model_dir, train, seed, pad_id)
            seconds["fine-tune"] += time.perf_counter() - t
            t = time.perf_counter()
            cache[key] = test_loss(model, test, pad_id, args.device)
            seconds["evaluation"] += time.perf_counter() - t
            cache_path.write_text(json.dumps(cache, indent=1))
        return cache[key]

    t = time.perf_counter()
    base_loss = cache.get("base") or test_loss(load_model(args, model_dir), test, pad_id, args.device)
    cache["base"] = base_loss
    seconds["evaluation"] += time.perf_counter() - t
    print(f"   base model (no fine-tune): test loss {base_loss:.4f} on {sum(len(x) - 1 for x in test):,} tokens")
    results: Dict[str, Any] = {}
    for label, versions in subsets.items():
        losses, per_subset = [], []
        records_of = {}
        for v in versions:
            records_of[v.reference] = list(v.records())
        for seed in range(args.seeds):
            # seeded selectors: selection seed s with fine-tune seed s; the others: one subset, seed s
            subset = versions[seed] if len(versions) > 1 else versions[0]
            train = tokenize(tokenizer, [r["text"] for r in records_of[subset.reference]], args.max_length)
            loss = measured(f"{subset.reference}|{seed}|{subset.content_hash}", train, seed)
            losses.append(loss)
            per_subset.append((subset, seed, loss))
            print(f"   {label:13s} {subset.reference:14s} seed {seed}: {len(train):5d} rows, test loss {loss:.4f}", flush=True)
        records = [r for v in versions for r in records_of[v.reference]]
        results[label] = {
            "subsets": [v.reference for v in versions], "rows": round(statistics.fmean(len(records_of[v.reference]) for v in versions)),
            "target_share": sum(r["domain"] == TARGET_DOMAIN for r in records) / len(records),
            "near_target_share": sum(r["domain"] == NEAR_TARGET for r in records) / len(records),
            "planted_duplicates": sum(r.get("dup_of") is not None for r in records) / len(versions),
            "losses": losses, "mean": statistics.fmean(losses),
            "sd": statistics.stdev(losses) if len(losses) > 1 else 0.0,
            "per_subset": [(s.reference, seed, loss) for s, seed, loss in per_subset],
        }
    stages.seconds["fine-tunes"] = round(seconds["fine-tune"], 1)
    stages.seconds["evaluation"] = round(seconds["evaluation"], 1)
    return {"base_loss": base_loss, "selectors": results, "test_tokens": sum(len(x) - 1 for x in test)}


# 8. Metrics, comparison, report.

def record_metrics(args: argparse.Namespace, cat, evaluation: Dict[str, Any]) -> List[str]:
    """``quadcat metric``: each subset version gets its own fine-tunes' mean loss (several seeds for the
    deterministic selectors; one, its own seed, for random and quad's per-seed subsets)."""
    note = (f"mean test-half loss after a {args.finetune} fine-tune of {args.ft_steps} steps x {args.ft_batch} rows, "
            f"lr {args.ft_lr}")
    references = []
    for label, result in evaluation["selectors"].items():
        by_subset: Dict[str, List[float]] = {}
        for reference, _, loss in result["per_subset"]:
            by_subset.setdefault(reference, []).append(loss)
        for reference, losses in by_subset.items():
            values = {"target_loss": statistics.fmean(losses)}
            if len(losses) > 1:
                values["target_loss_sd"] = statistics.stdev(losses)
            cat.metric(reference, values, note=f"{note}; {len(losses)} seed(s)")
            references.append(reference)
    return references


def write_results(args: argparse.Namespace, work: Path, summary: Dict[str, Any]) -> Path:
    ev = summary["evaluation"]
    random_mean = ev["selectors"]["random"]["mean"]
    lines = [
        f"# LESS pipeline example: held-out target loss after a fine-tune on each {args.budget} subset", "",
        f"Pool: {summary['pool']['rows']:,} rows of realbench's corpus; target: Python Library Reference chunks, "
        f"split by page into {summary['split']['validation_rows']} validation rows ({summary['split']['validation_pages']} pages, "
        f"used for the selection) and {summary['split']['test_rows']} test rows ({summary['split']['test_pages']} other pages, "
        f"{ev['test_tokens']:,} tokens, only evaluated on).",
        f"Base model: {summary['model']}. Fine-tune: {args.finetune}, {args.ft_steps} steps x {args.ft_batch} rows, "
        f"lr {args.ft_lr}, {args.seeds} seed(s). Loss: mean next-token cross-entropy (nats/token) on the test half; "
        f"the base model before any fine-tune: **{ev['base_loss']:.4f}**.", "",
        "| selector | subsets | rows | python_docs share | pydoc share | planted dups | test loss (mean ± sd) | vs random |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, r in ev["selectors"].items():
        delta = r["mean"] - random_mean
        lines.append(f"| {label} | {', '.join(r['subsets'])} | {r['rows']:,} | {r['target_share']:.1%} | "
                     f"{r['near_target_share']:.1%} | {r['planted_duplicates']:.0f} | {r['mean']:.4f} ± {r['sd']:.4f} | "
                     f"{'' if label == 'random' else f'{delta:+.4f}'} |")
    lines += ["", f"Pool shares: {TARGET_DOMAIN} {summary['pool']['domains'].get(TARGET_DOMAIN, 0) / summary['pool']['rows']:.1%}, "
              f"{NEAR_TARGET} {summary['pool']['domains'].get(NEAR_TARGET, 0) / summary['pool']['rows']:.1%}. "
              "Random and Quad: one subset per seed (selection seed = fine-tune seed); LESS, GTP and DPP are "
              "deterministic, so their seeds vary only the fine-tune. GTP's weights are not used (rows are drawn "
              "uniformly). The full pool is fine-tuned for the same number of steps.", "",
              "![test loss by selector](results.svg)", "",
              "## Time per stage", "", "| stage | seconds | load average after |", "| --- | ---: | ---: |"]
    for stage, seconds in summary["seconds"].items():
        load = summary["load"].get(stage)
        lines.append(f"| {stage} | {seconds:.1f} | {load[0]:.2f} |" if load else f"| {stage} | {seconds:.1f} | |")
    lines += [f"| **total** | **{summary['total_seconds']:.1f}** | |", "",
              f"Machine: {summary['machine']}; torch threads {args.threads}; device {args.device}.", ""]
    if summary.get("ranking"):
        lines += ["`quadcat compare --sort target_loss`: " + " < ".join(summary["ranking"]), ""]
    path = work / "results.md"
    path.write_text("\n".join(lines))
    (work / "results.svg").write_text(chart(ev))
    (work / "results.json").write_text(json.dumps({k: v for k, v in summary.items()}, indent=1, default=str))
    return path


def chart(ev: Dict[str, Any]) -> str:
    """A dot plot of each selector's mean loss with ± sd whiskers (and each seed as a faint dot), SVG."""
    items = list(ev["selectors"].items())
    values = [x for _, r in items for x in r["losses"]] + [ev["base_loss"]]
    lo, hi = min(values), max(values)
    span = max(hi - lo, 1e-6)
    lo, hi = lo - 0.08 * span, hi + 0.08 * span
    left, width, row = 130, 420, 26
    height = 50 + row * (len(items) + 1)

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * width

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           f'<text x="{left}" y="16" font-weight="bold">held-out target loss (nats/token), mean ± sd over seeds</text>']
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        out.append(f'<line x1="{x(v):.1f}" y1="24" x2="{x(v):.1f}" y2="{height - 20}" stroke="#ddd"/>'
                   f'<text x="{x(v):.1f}" y="{height - 6}" text-anchor="middle" fill="#555">{v:.3f}</text>')
    rows = items + [("base (no fine-tune)", {"mean": ev["base_loss"], "sd": 0.0, "losses": []})]
    for k, (label, r) in enumerate(rows):
        y = 38 + row * k
        color = "#888" if label in ("random", "base (no fine-tune)", "full pool") else "#1f77b4"
        out.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{label}</text>')
        for v in r["losses"]:
            out.append(f'<circle cx="{x(v):.1f}" cy="{y}" r="2.5" fill="{color}" opacity="0.35"/>')
        if r["sd"]:
            out.append(f'<line x1="{x(r["mean"] - r["sd"]):.1f}" y1="{y}" x2="{x(r["mean"] + r["sd"]):.1f}" y2="{y}" '
                       f'stroke="{color}" stroke-width="2"/>')
        out.append(f'<circle cx="{x(r["mean"]):.1f}" cy="{y}" r="5" fill="{color}"/>'
                   f'<text x="{x(r["mean"]) + 8:.1f}" y="{y - 7}" fill="#333" font-size="10">{r["mean"]:.3f}</text>')
    out.append("</svg>")
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    import torch
    import transformers
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()  # no per-load warnings or progress bars
    transformers.logging.disable_progress_bar()
    import warnings
    for noise in ("fan_in_fan_out", ".*is_gradient_checkpointing", "Sparse"):
        warnings.filterwarnings("ignore", message=noise)
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    data = Path(args.data)
    if not (data / "corpus.jsonl").is_file():
        raise SystemExit(f"{data}/corpus.jsonl not found: give --data the realbench folder")
    work = Path(args.work)
    if args.fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    stages = Stages()
    load_start = [round(x, 2) for x in os.getloadavg()]
    print(f"quadcat LESS example in {work} ({'quick' if args.quick else 'full'} size; device {args.device}, "
          f"{args.threads} torch thread(s); load average at start {load_start[0]:.2f} on {os.cpu_count()} CPUs)")

    split = stages.run("split target", split_target, args, work)
    pool = stages.run("pool", write_pool, args, work)
    if args.base_model:
        model_dir, model_info = args.base_model, {"path": args.base_model}
        description = f"{args.base_model} (given)"
    else:
        model_info = stages.run("base model", train_base, args, work)
        model_dir = os.fspath(work / "base")
        description = (f"GPT-2 {args.model_layers} layers x {args.model_width}, {model_info['parameters'] / 1e6:.2f}M parameters, "
                       f"BPE vocabulary {model_info['vocab']:,}, trained from scratch on "
                       f"{model_info['tokens_trained'] / 1e6:.2f}M tokens of the corpus (final training loss "
                       f"{model_info['final_loss']:.3f})")
    cat = stages.run("ingest", build_catalog, args, work)
    checkpoints = stages.run("warmup", run_warmup, args, work, model_dir)
    features = stages.run("features", run_features, args, work, cat, model_dir, checkpoints)
    features["kfac"] = stages.run("K-FAC features", run_kfac_features, args, work, cat, model_dir, checkpoints)
    subsets = stages.run("selection", select_all, args, cat)
    evaluation = stages.run("fine-tunes + evaluation", evaluate_all, args, work, model_dir, subsets, stages)
    references = stages.run("metrics + report", record_metrics, args, cat, evaluation)
    compared = cat.compare(*references, sort="target_loss", label="domain", target="python")
    ranking = [e.subset for e in compared.entries]
    print("   compare --sort target_loss: " + " < ".join(ranking))
    report = cat.report(*references, out=work / "report.html", label="domain", target="python", sort="target_loss")
    summary = {
        "args": vars(args), "split": split, "pool": pool, "model": description, "model_info": model_info,
        "features": features, "evaluation": evaluation, "seconds": stages.seconds, "load": stages.load,
        "load_at_start": load_start, "ranking": ranking, "report": os.fspath(work / "report.html"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
    }
    summary["seconds"].pop("fine-tunes + evaluation", None)  # shown as its two parts
    summary["total_seconds"] = stages.total
    path = write_results(args, work, summary)
    print("\n" + path.read_text())
    print(f"report: {report.get('path', work / 'report.html')}; table: {path}; chart: {work / 'results.svg'}")
    return summary


if __name__ == "__main__":
    main()
