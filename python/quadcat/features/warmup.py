"""LESS's first step: a short LoRA warmup on a random fraction of the corpus, one checkpoint per epoch.

The sample is an ordinary subset of the catalog (``random`` selector, hash-seeded), so lineage shows what
the warmup saw; its records stream from the catalog. Training is the HF Trainer's with a PEFT LoRA
adapter; every epoch leaves ``OUT/checkpoint-N`` with the adapter, the optimizer state and
``trainer_state.json``: exactly what ``features --checkpoint`` reads. A rerun resumes from the last
checkpoint.
"""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import torch

from ..catalog import Catalog
from .text import Fields, TokenCounts, Tokenizing, collate, has_loss_token

PathLike = Union[str, "os.PathLike[str]"]

#: LESS's LoRA settings (its ``base_training_args``: r 128, alpha 512, dropout 0.1, q/k/v/o projections).
LESS_LORA = {"r": 128, "alpha": 512, "dropout": 0.1, "target_modules": ("q_proj", "k_proj", "v_proj", "o_proj")}


@dataclass
class WarmupReport:
    output: str
    subset: str
    rows: int
    epochs: int
    checkpoints: List[str]
    trainable_parameters: int
    seconds: float
    resumed_from: Optional[str]


def warmup(catalog: PathLike, *, corpus: str, model: str, out: PathLike, fraction: float = 0.05, epochs: int = 4,
           seed: int = 0, lora_r: int = 128, lora_alpha: int = 512, lora_dropout: float = 0.1,
           target_modules: Optional[Sequence[str]] = None, learning_rate: float = 2e-5, batch_size: int = 1,
           gradient_accumulation: int = 32, max_length: int = 512, text_field: Optional[str] = None,
           prompt_field: Optional[str] = None, completion_field: Optional[str] = None, subset_name: Optional[str] = None,
           dtype: str = "fp32", progress: bool = True) -> WarmupReport:
    """Trains a LoRA adapter on a hash-seeded ``fraction`` of ``corpus`` for ``epochs`` epochs (LESS's
    defaults: r 128, alpha 512, dropout 0.1, lr 2e-5, linear decay after 3% warmup, effective batch 32)
    and saves a checkpoint per epoch under ``out``. ``target_modules``: LESS's q/k/v/o projections when
    the model has them, else every linear layer of the transformer blocks."""
    import time
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments
    started = time.perf_counter()
    cat = Catalog(catalog)
    info = cat.info().corpus(corpus)
    if not 0 < fraction <= 1:
        raise ValueError(f"--fraction must be in (0, 1], not {fraction}")
    name = subset_name or f"warmup-{corpus}-{seed}"
    sample = _sample(cat, corpus, name, fraction, seed)
    tokenizer = AutoTokenizer.from_pretrained(model)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    base = AutoModelForCausalLM.from_pretrained(model, dtype=dtypes[dtype])
    modules = list(target_modules) if target_modules else _default_targets(base)
    from transformers import set_seed
    set_seed(seed)  # the adapter's initial weights: the same in every process (the Trainer seeds only later)
    peft_model = get_peft_model(base, LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                                                 target_modules=modules, task_type="CAUSAL_LM"))
    fields = Fields(text=text_field or (None if prompt_field else info.text_field), prompt=prompt_field, completion=completion_field)
    tokenizing = Tokenizing(tokenizer, fields, max_length, vocab_size=base.get_input_embeddings().num_embeddings,
                            source=f"corpus '{corpus}'")
    counts = TokenCounts()
    examples = [tokenizing.example(row, record, counts) for row, record in
                zip(sample.rows.tolist(), sample.records())]
    examples = [e for e in examples if has_loss_token(e[1])]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    output = Path(out)
    last = _last_checkpoint(output)
    args = TrainingArguments(
        output_dir=os.fspath(output), num_train_epochs=epochs, learning_rate=learning_rate,
        per_device_train_batch_size=batch_size, gradient_accumulation_steps=gradient_accumulation,
        lr_scheduler_type="linear", **_warmup_share(TrainingArguments, 0.03), weight_decay=0.0, logging_steps=1,
        save_strategy="epoch",
        seed=seed, data_seed=seed, report_to=[], disable_tqdm=not progress, use_cpu=not torch.cuda.is_available(),
        bf16=dtype == "bf16", fp16=dtype == "fp16", remove_unused_columns=False, dataloader_num_workers=0)
    trainer = Trainer(model=peft_model, args=args, train_dataset=_Examples(examples),
                      data_collator=lambda batch: collate(batch, pad))
    if not progress:  # the trainer prints a dict per logged step on standard output otherwise
        from transformers.trainer_callback import PrinterCallback, ProgressCallback
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
    trainer.train(resume_from_checkpoint=os.fspath(last) if last else None)
    checkpoints = sorted((p for p in output.glob("checkpoint-*") if p.is_dir()), key=lambda p: int(p.name.split("-")[1]))
    for checkpoint in checkpoints:
        tokenizer.save_pretrained(checkpoint)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    return WarmupReport(output=os.fspath(output), subset=sample.reference, rows=len(examples), epochs=epochs,
                        checkpoints=[os.fspath(c) for c in checkpoints], trainable_parameters=trainable,
                        seconds=round(time.perf_counter() - started, 3), resumed_from=os.fspath(last) if last else None)


def _warmup_share(arguments: Any, share: float) -> dict:
    """LESS's 3% linear warmup: ``warmup_ratio`` before transformers 5, a fractional ``warmup_steps`` after."""
    import inspect
    names = inspect.signature(arguments.__init__).parameters
    return {"warmup_ratio": share} if "warmup_ratio" in names else {"warmup_steps": share}


def _sample(cat: Catalog, corpus: str, name: str, fraction: float, seed: int) -> Any:
    """The warmup's rows: the existing subset ``name`` when a rerun finds it (same fraction and seed), else
    a new ``random`` subset."""
    budget = f"{fraction * 100:g}%"
    for subset in cat.subsets():
        if subset.name == name and subset.selector == "random" and subset.info.seed == seed \
                and subset.info.corpus == corpus and subset.info.budget_spec == budget:
            return subset
    return cat.select(corpus=corpus, selector="random", budget=budget, name=name, seed=seed)


def _default_targets(model: torch.nn.Module) -> List[str]:
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    if set(LESS_LORA["target_modules"]) <= names:
        return list(LESS_LORA["target_modules"])
    return "all-linear"  # type: ignore[return-value]


def _last_checkpoint(output: Path) -> Optional[Path]:
    if not output.is_dir():
        return None
    done = [p for p in output.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[1])) if done else None


class _Examples(torch.utils.data.Dataset):
    def __init__(self, examples: List[Any]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> Any:
        return self.examples[i]


__all__ = ["LESS_LORA", "WarmupReport", "warmup"]
