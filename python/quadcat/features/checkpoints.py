"""HF Trainer checkpoint directories: the model or LoRA adapter, Adam's state and the learning rate.

A checkpoint directory (``out/checkpoint-N``) as the HF Trainer writes it holds the adapter
(``adapter_config.json`` + ``adapter_model.safetensors``) or the full model, the optimizer state
(``optimizer.pt``; ``optimizer.bin`` where accelerate/FSDP saved it) and ``trainer_state.json``. LESS's
users trip over all three (princeton-nlp/LESS issues #4, #10, #13): optimizer state keyed by integers
in the order of the optimizer's parameter groups, or by parameter names; the weight of a checkpoint
being the mean learning rate of the epoch that ends at it. This module reads them and says exactly what
does not match.
"""
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .per_example import Parameter

_FSDP_PREFIXES = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.", "module.", "_orig_mod.")


@dataclass
class AdamState:
    """Adam's moments for every trainable parameter (by name, each flattened as its parameter), with
    the betas and eps of the parameter group each came from (LESS uses them in its update direction)."""
    exp_avg: Dict[str, torch.Tensor]
    exp_avg_sq: Dict[str, torch.Tensor]
    betas: Dict[str, Tuple[float, float]]
    eps: Dict[str, float]
    source: str
    #: How the state was matched to the parameters: "names" or "order".
    matched_by: str


def find_optimizer_file(directory: Path) -> Path:
    """``optimizer.pt`` or ``optimizer.bin`` in a checkpoint directory (an error naming both if absent),
    or the file itself when given one."""
    if Path(directory).is_file():
        return Path(directory)
    for name in ("optimizer.pt", "optimizer.bin"):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(
        f"{directory} has no optimizer state (optimizer.pt or optimizer.bin): LESS's Adam direction needs it. "
        "Save checkpoints with the optimizer (HF Trainer does unless save_only_model=True), or run "
        "with --preconditioner none for plain gradients")


def load_adam_state(directory: Path, parameters: Sequence[Parameter], model: nn.Module) -> AdamState:
    """Reads a checkpoint's optimizer state and matches it to ``parameters`` (the model's trainable
    parameters in order): by name when the state has names (name-keyed state, or ``param_names`` in
    its parameter groups), else by order, checked shape by shape."""
    path = find_optimizer_file(Path(directory))
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: cannot read the optimizer state ({type(error).__name__}: {error})") from error
    if not isinstance(saved, dict) or "state" not in saved or "param_groups" not in saved:
        raise ValueError(f"{path}: not an optimizer state_dict (expected the keys 'state' and 'param_groups')")
    state, groups = saved["state"], saved["param_groups"]
    group_of: Dict[Any, dict] = {}
    for group in groups:
        for key in group.get("params", []):
            group_of[key] = group
    names_in_groups = all("param_names" in g for g in groups) and groups
    if state and all(isinstance(k, str) for k in state):
        matched = _by_name({_strip(k): v for k, v in state.items()},
                           {_strip(k): g for k, g in group_of.items()}, parameters, path)
        how = "names"
    elif names_in_groups:
        keyed = {}
        groups_by_name = {}
        for group in groups:
            for key, name in zip(group["params"], group["param_names"]):
                if key in state:
                    keyed[_strip(name)] = state[key]
                groups_by_name[_strip(name)] = group
        matched = _by_name(keyed, groups_by_name, parameters, path)
        how = "names"
    else:
        matched = _by_order(state, groups, parameters, model, path)
        how = "order"
    exp_avg, exp_avg_sq, betas, eps = {}, {}, {}, {}
    for p, (entry, group) in zip(parameters, matched):
        for key in ("exp_avg", "exp_avg_sq"):
            if key not in entry:
                raise ValueError(f"{path}: the state of {p.name} has no {key}: is this an Adam/AdamW optimizer's state?")
        exp_avg[p.name] = entry["exp_avg"].reshape(-1).to(torch.float32)
        exp_avg_sq[p.name] = entry["exp_avg_sq"].reshape(-1).to(torch.float32)
        b = group.get("betas", (0.9, 0.999))
        betas[p.name] = (float(b[0]), float(b[1]))
        eps[p.name] = float(group.get("eps", 1e-8))
    return AdamState(exp_avg, exp_avg_sq, betas, eps, str(path), how)


def _strip(name: Any) -> Any:
    if not isinstance(name, str):
        return name
    changed = True
    while changed:
        changed = False
        for prefix in _FSDP_PREFIXES:
            if prefix in name:
                name = name.replace(prefix, "")
                changed = True
    return name


def _by_name(state: Dict[str, dict], groups: Dict[str, dict], parameters: Sequence[Parameter],
             path: Path) -> List[Tuple[dict, dict]]:
    out = []
    for p in parameters:
        key = _strip(p.name)
        entry = state.get(key)
        if entry is None:  # a PEFT model's names may carry a 'base_model.model.' the state lacks, or the reverse
            candidates = [k for k in state if k.endswith(key) or key.endswith(k)]
            entry = state[candidates[0]] if len(candidates) == 1 else None
            key = candidates[0] if len(candidates) == 1 else key
        if entry is None:
            raise ValueError(f"{path}: no optimizer state for parameter {p.name} (the state names e.g. "
                             f"{', '.join(list(state)[:3])}); is this checkpoint from the same model and adapter?")
        _check_shape(entry, p, path, f"state '{key}'")
        out.append((entry, groups.get(key, {})))
    return out


def _by_order(state: Dict[int, dict], groups: List[dict], parameters: Sequence[Parameter], model: nn.Module,
              path: Path) -> List[Tuple[dict, dict]]:
    """Integer-keyed state: the optimizer numbered its parameters group by group. The HF Trainer puts
    the parameters with weight decay first (all but biases and norms), then the others, each in
    ``named_parameters()`` order; a plain ``AdamW(model.parameters())`` has one group in that order.
    Both are tried; the first that matches every shape wins, else the first mismatch is named."""
    keys = [key for group in groups for key in group["params"]]
    group_of = {key: group for group in groups for key in group["params"]}
    if len(keys) != len(parameters):
        raise ValueError(f"{path}: the optimizer has {len(keys)} parameters, the model {len(parameters)} trainable ones: "
                         "is this checkpoint from the same model and adapter (and are the same parameters trainable)?")
    orders = [_trainer_order(parameters, model), list(parameters)]
    first_error: Optional[str] = None
    for order in orders:
        error = None
        for key, p in zip(keys, order):
            if key not in state:
                error = f"parameter {p.name} (optimizer index {key}) has no state: the optimizer never stepped it"
                break
            shape = tuple(state[key]["exp_avg"].shape)
            if shape != p.shape:
                error = (f"optimizer index {key} has shape {shape}, but parameter {p.name} in that position has "
                         f"shape {p.shape}")
                break
        if error is None:
            by_name = {p.name: (state[key], group_of[key]) for key, p in zip(keys, order)}
            return [by_name[p.name] for p in parameters]
        first_error = first_error or error
    raise ValueError(f"{path}: the optimizer state does not match the model's trainable parameters by order: "
                     f"{first_error}. Is this checkpoint from the same model and adapter?")


def _trainer_order(parameters: Sequence[Parameter], model: nn.Module) -> List[Parameter]:
    """The HF Trainer's grouping: parameters with weight decay (not biases or norm weights) first."""
    try:
        from transformers.trainer_pt_utils import get_parameter_names
        from transformers.pytorch_utils import ALL_LAYERNORM_LAYERS
        decay = set(n for n in get_parameter_names(model, ALL_LAYERNORM_LAYERS) if "bias" not in n)
    except Exception:  # an older or newer transformers: fall back to the naming rule it uses
        decay = {p.name for p in parameters if "bias" not in p.name and "norm" not in p.name.lower()}
    return [p for p in parameters if p.name in decay] + [p for p in parameters if p.name not in decay]


def _check_shape(entry: dict, p: Parameter, path: Path, what: str) -> None:
    tensor = entry.get("exp_avg")
    if tensor is None:
        raise ValueError(f"{path}: {what} has no exp_avg: is this an Adam/AdamW optimizer's state?")
    if tuple(tensor.shape) != p.shape and tensor.numel() != p.numel:
        raise ValueError(f"{path}: {what} has shape {tuple(tensor.shape)}, parameter {p.name} has shape {p.shape}")


def epoch_learning_rate(directory: Path) -> float:
    """LESS's weight for a checkpoint: the mean learning rate the trainer logged over the epoch that
    ends at this checkpoint (``trainer_state.json``'s ``log_history``)."""
    path = Path(directory) / "trainer_state.json"
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no trainer_state.json, so its learning rate is unknown: give --lr")
    with open(path, encoding="utf-8") as file:
        state = json.load(file)
    end = float(state.get("epoch") or 0)
    logged = [(float(e["epoch"]), float(e["learning_rate"])) for e in state.get("log_history", [])
              if "learning_rate" in e and "epoch" in e]
    if not logged:
        raise ValueError(f"{path} logs no learning rate (set logging_steps so the trainer logs during each epoch), or give --lr")
    start = math.ceil(end) - 1 if end > 0 else 0
    rates = [lr for epoch, lr in logged if start < epoch <= end + 1e-9]
    if not rates:
        rates = [lr for epoch, lr in logged if epoch <= end + 1e-9][-1:]
    if not rates:
        raise ValueError(f"{path}: no learning rate was logged up to epoch {end}; give --lr")
    mean = sum(rates) / len(rates)
    if not mean > 0:
        raise ValueError(f"{path}: the learning rates logged over the epoch ending at epoch {end:g} average {mean:g} "
                         "(a run too short for its warmup and decay?); give --lr")
    return mean


def load_model_at(model_path: str, checkpoint: Optional[Path], dtype: torch.dtype) -> nn.Module:
    """The causal LM at a checkpoint: the base model with the checkpoint's LoRA adapter (trainable), or
    the checkpoint's own full weights, or the base model alone (every parameter trainable)."""
    from transformers import AutoModelForCausalLM
    if checkpoint is not None and (Path(checkpoint) / "adapter_config.json").is_file():
        from peft import PeftModel
        base = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
        model = PeftModel.from_pretrained(base, os.fspath(checkpoint), is_trainable=True)
    else:
        source = os.fspath(checkpoint) if checkpoint is not None else model_path
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
        train_linear_layers(model)
    return model.eval()


def train_linear_layers(model: nn.Module) -> None:
    """Without an adapter, the gradients are those of every linear layer (weights and biases, the
    output head excepted when it is tied to the embedding): embeddings and norms stay frozen, since
    their per-example gradients are vocabulary-sized and no selector uses them."""
    from .per_example import _linear_classes
    linear = _linear_classes()
    for p in model.parameters():
        p.requires_grad_(False)
    embedding = model.get_input_embeddings().weight if hasattr(model, "get_input_embeddings") else None
    for module in model.modules():
        if isinstance(module, linear):
            for p in module.parameters(recurse=False):
                if p is not embedding:
                    p.requires_grad_(True)


__all__ = ["AdamState", "epoch_learning_rate", "find_optimizer_file", "load_adam_state", "load_model_at", "train_linear_layers"]
