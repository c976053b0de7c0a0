"""Per-example gradients of a model's trainable parameters, a batch at a time.

Three methods, all giving each example's gradient of its own loss (equal to a batch-1 autograd loop to
float32 rounding, whatever else shares the batch and however it is padded):

- ``hooks`` (the default wherever it applies): forward hooks keep each trainable linear layer's input
  ``x`` and output ``y``; one ``torch.autograd.grad`` of the summed per-example losses gives every
  ``dL/dy``, and example ``i``'s weight gradient is ``dy_i^T x_i`` summed over its tokens (one batched
  GEMM per layer), its bias gradient ``dy_i`` summed. This is bergson's and LoGra's method. It needs
  every trainable parameter to belong to an ``nn.Linear`` or a transformers ``Conv1D`` (LoRA adapters,
  and full fine-tuning of the linear layers).
- ``func``: ``torch.func.vmap(grad(loss))`` over the batch, for any module whose forward vmap can trace.
- ``loop``: one forward and backward per example (LESS's own loop); the reference the others are
  tested against, and the fallback for anything else.

Which is faster was measured (``make bench-features``, BENCHMARKS.md): hooks, then func, then loop.
"""
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Tuple

import torch
from torch import nn

#: ``loss_fn(model, batch) -> (batch,) per-example losses``; a batch is a mapping of tensors whose first
#: dimension is the example.
LossFunction = Callable[[nn.Module, Mapping[str, torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class Parameter:
    """One trainable parameter: its name in ``model.named_parameters()``, shape and offset in the
    flattened gradient (the concatenation of every trainable parameter in that order, as LESS flattens)."""
    name: str
    shape: Tuple[int, ...]
    offset: int

    @property
    def numel(self) -> int:
        size = 1
        for n in self.shape:
            size *= n
        return size


def trainable_parameters(model: nn.Module) -> List[Parameter]:
    """The model's trainable parameters in ``named_parameters()`` order, with their offsets."""
    out, offset = [], 0
    for name, p in model.named_parameters():
        if p.requires_grad:
            out.append(Parameter(name, tuple(p.shape), offset))
            offset += p.numel()
    if not out:
        raise ValueError("the model has no trainable parameters (requires_grad): load its LoRA adapter with "
                         "is_trainable=True, or unfreeze the parameters whose gradients you want")
    return out


def _linear_classes() -> Tuple[type, ...]:
    classes: List[type] = [nn.Linear]
    try:
        from transformers.pytorch_utils import Conv1D
        classes.append(Conv1D)
    except ImportError:  # pragma: no cover - transformers is part of the features extra
        pass
    return tuple(classes)


def hooks_apply(model: nn.Module) -> Tuple[bool, str]:
    """Whether the ``hooks`` method covers every trainable parameter, and if not, the first one it
    does not (named) and why."""
    linear = _linear_classes()
    for module_name, module in model.named_modules():
        for name, p in module.named_parameters(recurse=False):
            if p.requires_grad and not isinstance(module, linear):
                full = f"{module_name}.{name}" if module_name else name
                return False, f"{full} belongs to a {type(module).__name__}, not a linear layer"
    return True, ""


class PerExampleGradients:
    """Computes per-example gradients of ``model``'s trainable parameters.

    >>> engine = PerExampleGradients(model, causal_lm_losses)
    >>> grads, losses = engine(batch)   # {parameter name: (batch, numel) float32}, (batch,) losses

    ``method``: ``"auto"`` (hooks where they apply, else func), ``"hooks"``, ``"func"`` or ``"loop"``.
    Gradients are float32 whatever the model's dtype, each flattened in its parameter's own layout.
    """

    def __init__(self, model: nn.Module, loss_fn: LossFunction, method: str = "auto"):
        self.model = model
        self.loss_fn = loss_fn
        self.parameters = trainable_parameters(model)
        self.n_params = sum(p.numel for p in self.parameters)
        covered, why = hooks_apply(model)
        if method == "auto":
            method = "hooks" if covered else "func"
        if method == "hooks" and not covered:
            raise ValueError(f"per-example gradients by hooks need every trainable parameter in a linear layer: {why}; "
                             "use method='func' or 'loop'")
        if method not in ("hooks", "func", "loop"):
            raise ValueError(f"unknown per-example gradient method {method!r}: hooks, func, loop or auto")
        self.method = method

    def __call__(self, batch: Mapping[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        if self.method == "hooks":
            return self._hooks(batch)
        if self.method == "func":
            return self._func(batch)
        return self._loop(batch)

    # hooks

    def _hooks(self, batch: Mapping[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        linear = _linear_classes()
        names = {id(p): n for n, p in self.model.named_parameters() if p.requires_grad}
        calls: List[Tuple[nn.Module, torch.Tensor, torch.Tensor]] = []

        def keep(module: nn.Module, inputs: Tuple[Any, ...], output: torch.Tensor) -> None:
            if output.requires_grad:
                calls.append((module, inputs[0].detach(), output))

        handles = [m.register_forward_hook(keep) for m in self.model.modules()
                   if isinstance(m, linear) and any(p.requires_grad for p in m.parameters(recurse=False))]
        try:
            losses = self.loss_fn(self.model, batch)
        finally:
            for handle in handles:
                handle.remove()
        output_grads = torch.autograd.grad(losses.sum(), [y for _, _, y in calls], allow_unused=True)
        n = losses.shape[0]
        grads: Dict[str, torch.Tensor] = {}
        for (module, x, y), dy in zip(calls, output_grads):
            if dy is None:
                continue
            x32 = x.reshape(n, -1, x.shape[-1]).to(torch.float32)
            dy32 = dy.reshape(n, -1, dy.shape[-1]).to(torch.float32)
            weight = module.weight
            if weight.requires_grad:
                if isinstance(module, nn.Linear):
                    g = torch.bmm(dy32.transpose(1, 2), x32)          # (n, out, in), weight's layout
                else:
                    g = torch.bmm(x32.transpose(1, 2), dy32)          # Conv1D: (n, in, out)
                _add(grads, names[id(weight)], g.reshape(n, -1))
            bias = getattr(module, "bias", None)
            if bias is not None and bias.requires_grad:
                _add(grads, names[id(bias)], dy32.sum(dim=1))
        return self._complete(grads, n, losses), losses.detach().to(torch.float32)

    # torch.func

    def _func(self, batch: Mapping[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        from torch.func import functional_call, grad_and_value, vmap
        trainable = {n: p.detach() for n, p in self.model.named_parameters() if p.requires_grad}
        frozen = {n: p.detach() for n, p in self.model.named_parameters() if not p.requires_grad}
        frozen.update(dict(self.model.named_buffers()))
        keys = list(batch.keys())

        def one(params: Dict[str, torch.Tensor], *values: torch.Tensor) -> torch.Tensor:
            single = {k: v.unsqueeze(0) for k, v in zip(keys, values)}
            model = _Functional(self.model, {**frozen, **params}, functional_call)
            return self.loss_fn(model, single)[0]

        try:
            grads, losses = vmap(grad_and_value(one), in_dims=(None, *([0] * len(keys))))(trainable, *[batch[k] for k in keys])
        except Exception as error:  # vmap cannot trace data-dependent control flow in some models
            raise RuntimeError(f"torch.func could not vectorise this model ({type(error).__name__}: {error}); "
                               "use method='loop', or LoRA adapters / linear layers with method='hooks'") from error
        n = losses.shape[0]
        out = {name: g.reshape(n, -1).to(torch.float32) for name, g in grads.items()}
        return self._complete(out, n, losses), losses.detach().to(torch.float32)

    # the reference loop

    def _loop(self, batch: Mapping[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        params = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        n = next(iter(batch.values())).shape[0]
        rows: List[List[torch.Tensor]] = []
        losses = []
        for i in range(n):
            example = {k: v[i:i + 1] for k, v in batch.items()}
            length = int(example["attention_mask"].sum()) if "attention_mask" in example else None
            if length is not None:  # unpadded, as LESS runs it
                example = {k: v[:, :length] if v.ndim > 1 else v for k, v in example.items()}
            loss = self.loss_fn(self.model, example)[0]
            g = torch.autograd.grad(loss, [p for _, p in params], allow_unused=True)
            rows.append([torch.zeros_like(p, dtype=torch.float32).reshape(-1) if gi is None else gi.reshape(-1).to(torch.float32)
                         for (_, p), gi in zip(params, g)])
            losses.append(loss.detach())
        grads = {name: torch.stack([row[j] for row in rows]) for j, (name, _) in enumerate(params)}
        return grads, torch.stack(losses).to(torch.float32)

    def _complete(self, grads: Dict[str, torch.Tensor], n: int, losses: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Zeros for parameters the loss did not reach (their gradient is zero)."""
        device = losses.device
        for p in self.parameters:
            if p.name not in grads:
                grads[p.name] = torch.zeros((n, p.numel), dtype=torch.float32, device=device)
        return grads


def _add(grads: Dict[str, torch.Tensor], name: str, g: torch.Tensor) -> None:
    """A parameter used by several calls (a reused or tied layer) gets the sum of their gradients."""
    grads[name] = grads[name] + g if name in grads else g


class _Functional(nn.Module):
    """The model called with the given parameters (``torch.func.functional_call``), so a loss function
    written for a module works under vmap unchanged."""

    def __init__(self, model: nn.Module, params: Dict[str, torch.Tensor], functional_call: Any):
        super().__init__()
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_params", params)
        object.__setattr__(self, "_call", functional_call)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self._model, self._params, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_model"), name)


def causal_lm_losses(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Per-example mean next-token cross-entropy over the tokens whose label is not -100 (prompt and
    padding are -100), as an HF causal LM's ``.loss`` computes it for one example. An example with no
    such token has loss 0 (and gradient 0)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits if hasattr(out, "logits") else out[0]
    labels = batch["labels"][:, 1:]
    logits = logits[:, :-1].to(torch.float32)
    token_losses = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                               ignore_index=-100, reduction="none").reshape(labels.shape)
    counts = (labels != -100).sum(dim=1)
    return token_losses.sum(dim=1) / counts.clamp(min=1)


__all__ = ["LossFunction", "Parameter", "PerExampleGradients", "causal_lm_losses", "hooks_apply", "trainable_parameters"]
