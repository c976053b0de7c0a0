#!/usr/bin/env python3
"""LESS gradient-feature loop, re-created as a standalone benchmark baseline.

Follows princeton-nlp/LESS ``less/data_selection/collect_grad_reps.py``
(``collect_grads``) and ``get_info.py``:

* batch size 1: one forward + backward per example, loss = the model's mean
  next-token cross-entropy (``model(**batch).loss`` with labels = input_ids);
* the gradient of every trainable parameter is flattened and concatenated
  (``torch.cat([p.grad.view(-1) ...])``);
* with an Adam optimizer state (``--optimizer``) the gradient is replaced by
  LESS's Adam direction, without bias correction::

      m' = 0.9 m + 0.1 g;  v' = 0.999 v + 0.001 g^2;  g <- m' / sqrt(v' + 1e-8)

  otherwise the plain gradient is used (LESS's ``gradient_type="sgd"``);
* every 16 examples (``project_interval``) the buffered gradients are stacked,
  cast to fp16 (as LESS does) and projected at once with TRAK's CPU projector,
  ``trak.projectors.BasicProjector`` (rademacher, seed 0, block_size 128,
  dtype = model dtype).  BasicProjector keeps one ``[grad_dim, block_size]``
  buffer and, because proj_dim > block_size, regenerates every block of the
  ±1 matrix from its own seeded ``torch.Generator`` on *every* ``project``
  call.  We copy that behaviour (see ``BasicProjector`` below); like TRAK the
  entries are ±1 without a 1/sqrt(dim) scale (LESS row-normalises the
  features afterwards in ``merge_and_normalize_info``).

Differences from LESS, all outside the timed work or irrelevant to speed:
the data are the ``text`` field of a JSONL file tokenized with truncation to
``--max-length`` (LESS's chat / prompt-completion formatting is not applied),
projected features are kept in memory instead of written every 160 examples
(``--out`` saves them once at the end), and no TRAK/functorch import is
needed.

Only the loop is timed (not model loading or tokenization).  Prints one JSON
line: {"tool": "less-loop", "examples", "tokens", "seconds", "tokens_per_s",
"peak_rss_anon_mb", ...}.  Peak RssAnon is sampled from /proc/self/status
every 50 ms by a background thread (VmHWM would include file-backed pages
such as the mmapped safetensors).
"""

import argparse
import json
import math
import os
import threading
import time

import torch


# --------------------------------------------------------------------------
# Peak anonymous RSS sampler
# --------------------------------------------------------------------------
class RssAnonSampler:
    """Samples RssAnon of this process every ``interval`` seconds."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def read_kb() -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
        return 0

    def _run(self):
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, self.read_kb())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.peak_kb = self.read_kb()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, self.read_kb())


# --------------------------------------------------------------------------
# TRAK BasicProjector (MadryLab/trak, trak/projectors.py), CPU path
# --------------------------------------------------------------------------
class BasicProjector:
    """Faithful copy of trak.projectors.BasicProjector for rademacher
    projections: the projection matrix is generated block by block
    (``block_size`` output columns at a time) from per-block seeds
    ``seed + 1000 * block + 100000 * model_id`` into one preallocated
    ``[grad_dim, block_size]`` buffer, and all blocks are regenerated on every
    ``project`` call when there is more than one block."""

    def __init__(self, grad_dim, proj_dim, seed=0, device="cpu",
                 block_size=128, dtype=torch.float32, model_id=0):
        self.grad_dim = grad_dim
        self.proj_dim = proj_dim
        self.seed = seed
        self.device = torch.device(device)
        self.block_size = min(proj_dim, block_size)
        self.num_blocks = math.ceil(proj_dim / self.block_size)
        self.dtype = dtype
        self.model_id = model_id
        self.proj_matrix = torch.empty(grad_dim, self.block_size,
                                       dtype=dtype, device=self.device)
        self.generator = torch.Generator(device=self.device)
        self.get_generator_states()
        self.generate_sketch_matrix(self.generator_states[0])

    def get_generator_states(self):
        self.generator_states = []
        for i in range(self.num_blocks):
            s = self.seed + int(1e3) * i + int(1e5) * self.model_id
            self.generator = self.generator.manual_seed(s)
            self.generator_states.append(self.generator.get_state())

    def generate_sketch_matrix(self, generator_state):
        self.generator.set_state(generator_state)
        # ProjectionType.rademacher: bernoulli(0.5) -> {0,1} -> {-1,+1}
        self.proj_matrix.bernoulli_(p=0.5, generator=self.generator)
        self.proj_matrix *= 2.0
        self.proj_matrix -= 1.0

    def project(self, grads: torch.Tensor, model_id: int) -> torch.Tensor:
        grads = grads.to(dtype=self.dtype)
        sketch = torch.zeros(grads.size(0), self.proj_dim,
                             dtype=self.dtype, device=self.device)
        if model_id != self.model_id:
            self.model_id = model_id
            self.get_generator_states()
            if self.num_blocks == 1:
                self.generate_sketch_matrix(self.generator_states[0])
        if self.num_blocks == 1:
            torch.matmul(grads.data, self.proj_matrix, out=sketch)
        else:
            for ind in range(self.num_blocks):
                self.generate_sketch_matrix(self.generator_states[ind])
                st = ind * self.block_size
                ed = min((ind + 1) * self.block_size, self.proj_dim)
                sketch[:, st:ed] = grads.type(self.dtype) @ self.proj_matrix[:, : (ed - st)]
        return sketch.type(grads.dtype)


# --------------------------------------------------------------------------
# Model / data / optimizer state
# --------------------------------------------------------------------------
def load_model(model_dir, adapter_dir, dtype):
    """As LESS get_info.load_model: base model, optionally a PEFT (LoRA)
    adapter on top whose lora parameters are the trainable ones.  Without an
    adapter every parameter is trainable (LESS does not freeze anything)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    if adapter_dir:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir, is_trainable=True)
        for name, param in model.named_parameters():
            param.requires_grad = "lora" in name or "Lora" in name
    model.train(False)  # LESS runs the model as loaded (eval mode: no dropout)
    return model


def load_texts(path, limit):
    texts = []
    with open(path) as f:
        for line in f:
            if len(texts) >= limit:
                break
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts


def prepare_optimizer_state(model, path, device):
    """LESS prepare_optimizer_state: concatenate exp_avg / exp_avg_sq of the
    trainable parameters in named_parameters order.  Accepts a torch
    optimizer state_dict (or its "state" entry, as LESS loads optimizer.bin)
    keyed either by parameter name (LESS's convention) or by index."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(state, dict) and "state" in state:
        state = state["state"]
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    entries = []
    for i, n in enumerate(names):
        entry = state.get(n, state.get(i))
        if entry is None:
            raise KeyError(f"optimizer state has no entry for {n!r} (index {i})")
        entries.append(entry)
    avg = torch.cat([e["exp_avg"].reshape(-1) for e in entries]).to(device)
    avg_sq = torch.cat([e["exp_avg_sq"].reshape(-1) for e in entries]).to(device)
    return avg, avg_sq


def obtain_gradients(model, batch):
    """LESS obtain_gradients (gradient_type="sgd")."""
    loss = model(**batch).loss
    loss.backward()
    return torch.cat([p.grad.view(-1) for p in model.parameters() if p.grad is not None])


def obtain_gradients_with_adam(model, batch, avg, avg_sq):
    """LESS obtain_gradients_with_adam (gradient_type="adam")."""
    beta1, beta2, eps = 0.9, 0.999, 1e-08
    loss = model(**batch).loss
    loss.backward()
    g = torch.cat([p.grad.view(-1) for n, p in model.named_parameters() if p.grad is not None])
    updated_avg = beta1 * avg + (1 - beta1) * g
    updated_avg_sq = beta2 * avg_sq + (1 - beta2) * g ** 2
    return updated_avg / torch.sqrt(updated_avg_sq + eps)


# --------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="local HF model directory")
    ap.add_argument("--data", required=True, help="JSONL file with a 'text' field")
    ap.add_argument("--max-length", type=int, default=2048)
    ap.add_argument("--dim", type=int, default=8192, help="projection dimension")
    ap.add_argument("--limit", type=int, default=64, help="first N records")
    ap.add_argument("--adapter", default=None, help="PEFT adapter directory")
    ap.add_argument("--optimizer", default=None,
                    help="Adam optimizer state (torch.save'd state_dict / optimizer.bin)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--out", default=None, help="optional .pt file for the features")
    args = ap.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = load_model(args.model, args.adapter, dtype)
    device = next(model.parameters()).device

    # Pre-tokenize (outside the timed loop), batch size 1, no padding.
    batches = []
    for text in load_texts(args.data, args.limit):
        ids = tokenizer(text, truncation=True, max_length=args.max_length,
                        return_tensors="pt")["input_ids"]
        if ids.shape[1] < 2:  # no next-token target: LESS would get a NaN loss
            continue
        batches.append({"input_ids": ids, "attention_mask": torch.ones_like(ids),
                        "labels": ids.clone()})
    tokens = sum(b["input_ids"].shape[1] for b in batches)

    avg = avg_sq = None
    if args.optimizer:
        avg, avg_sq = prepare_optimizer_state(model, args.optimizer, device)

    # LESS collect_grads constants
    model_id, block_size, project_interval = 0, 128, 16
    torch.random.manual_seed(0)
    num_params = sum(p.numel() for p in model.parameters() if p.requires_grad)

    with RssAnonSampler() as rss:
        t0 = time.perf_counter()
        # The projector is built inside collect_grads, so its setup (buffer
        # allocation + first block) is part of LESS's loop time too.
        projector = BasicProjector(grad_dim=num_params, proj_dim=args.dim, seed=0,
                                   device=device, block_size=block_size,
                                   dtype=dtype, model_id=model_id)
        full_grads, projected = [], []

        def _project():
            stacked = torch.stack(full_grads).to(torch.float16)  # as LESS
            projected.append(projector.project(stacked, model_id=model_id).cpu())

        for count, batch in enumerate(batches, start=1):
            if avg is not None:
                g = obtain_gradients_with_adam(model, batch, avg, avg_sq)
            else:
                g = obtain_gradients(model, batch)
            full_grads.append(g)
            model.zero_grad()
            if count % project_interval == 0:
                _project()
                full_grads = []
        if full_grads:
            _project()
            full_grads = []
        features = torch.cat(projected) if projected else torch.empty(0, args.dim)
        seconds = time.perf_counter() - t0

    if args.out:
        torch.save(features, args.out)
    print(json.dumps({
        "tool": "less-loop",
        "examples": len(batches),
        "tokens": tokens,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / seconds, 2),
        "peak_rss_anon_mb": round(rss.peak_kb / 1024, 1),
        "trainable_params": num_params,
        "dim": args.dim,
        "gradient": "adam" if avg is not None else "sgd",
        "adapter": bool(args.adapter),
        "features_finite": bool(torch.isfinite(features).all()),
        "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
