"""K-FAC: a Kronecker-factored inverse Gauss-Newton preconditioner per linear layer (``--preconditioner kfac``).

Quad (Zhang et al. 2025) scores rows by influence, ``<g_val, H^-1 g_row>``, with the Hessian approximated
as influence-function work on LLMs does (Grosse et al. 2023; kronfluence; bergson): block-diagonal over
the linear layers of the attention and MLP blocks, each block the Kronecker product of two small
factors of the Gauss-Newton (Fisher) matrix,

    A = E[x xᵀ]    (the layer's inputs, with a 1 appended when the layer has a bias)
    S = E[dy dyᵀ]  (the gradients of the loss at the layer's outputs, labels sampled from the model)

averaged over the tokens of a sample of rows. For a weight gradient ``G`` (out x in) the damped inverse
``(A ⊗ S + λ I)^-1 vec(G)`` is applied exactly in the factors' eigenbases,
``Q_S [(Q_Sᵀ G Q_A) / (λ_S λ_Aᵀ + λ)] Q_Aᵀ``, with ``λ = damping x mean(λ_S) mean(λ_A)`` (kronfluence's
relative damping). Pool rows get ``H^-1 g``, validation rows the plain gradient, so the stored inner
products are the influence Quad reads.
"""
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import torch
from torch import nn

from .per_example import _linear_classes


@dataclass
class _Block:
    weight: Optional[str]       # the weight parameter's name, when it is trainable
    bias: Optional[str]         # the bias parameter's name, when it is trainable
    transposed: bool            # transformers Conv1D stores its weight as (in, out)
    q_a: torch.Tensor
    lam_a: torch.Tensor
    q_s: torch.Tensor
    lam_s: torch.Tensor
    damping: float


class KFAC:
    """K-FAC factors of a model's trainable linear layers, estimated by :meth:`estimate`, applied to
    per-example gradients by :meth:`apply`."""

    def __init__(self, blocks: List[_Block], tokens: int):
        self.blocks = blocks
        self.tokens = tokens

    @classmethod
    def estimate(cls, model: nn.Module, batches: Iterable[Mapping[str, torch.Tensor]], *, damping: float = 0.1,
                 seed: int = 0) -> "KFAC":
        """Accumulates A and S over the loss tokens of ``batches`` (causal-LM batches: ``input_ids``,
        ``attention_mask``, ``labels``), with next-token labels sampled from the model's own predictions
        (the true Fisher, which is the Gauss-Newton matrix of the cross-entropy), then eigendecomposes."""
        linear = _linear_classes()
        names = {id(p): n for n, p in model.named_parameters() if p.requires_grad}
        modules = [m for m in model.modules()
                   if isinstance(m, linear) and any(p.requires_grad for p in m.parameters(recurse=False))]
        covered = {id(p) for m in modules for p in m.parameters(recurse=False) if p.requires_grad}
        uncovered = [n for i, n in names.items() if i not in covered]
        if uncovered:
            raise ValueError(f"--preconditioner kfac covers linear layers only; {uncovered[0]} is not in one")
        sums_a: Dict[int, torch.Tensor] = {}
        sums_s: Dict[int, torch.Tensor] = {}
        generator = torch.Generator().manual_seed(seed)
        tokens = 0
        for batch in batches:
            calls: List[Tuple[nn.Module, torch.Tensor, torch.Tensor]] = []

            def keep(module: nn.Module, inputs: Tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
                calls.append((module, inputs[0].detach(), output))

            handles = [m.register_forward_hook(keep) for m in modules]
            try:
                out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            finally:
                for handle in handles:
                    handle.remove()
            logits = (out.logits if hasattr(out, "logits") else out[0])[:, :-1].to(torch.float32)
            where = batch["labels"][:, 1:] != -100
            probabilities = torch.softmax(logits.detach(), dim=-1)[where].cpu()
            sampled = torch.multinomial(probabilities, 1, generator=generator).squeeze(1).to(logits.device)
            loss = nn.functional.cross_entropy(logits[where], sampled, reduction="sum")
            grads = torch.autograd.grad(loss, [y for _, _, y in calls], allow_unused=True)
            # the positions whose outputs feed a loss token: token t predicts t+1
            mask = torch.zeros_like(batch["attention_mask"], dtype=torch.bool)
            mask[:, :-1] = where
            tokens += int(mask.sum())
            for (module, x, _), dy in zip(calls, grads):
                if dy is None:
                    continue
                x = x.reshape(*mask.shape, -1)[mask].to(torch.float32)
                dy = dy.reshape(*mask.shape, -1)[mask].to(torch.float32)
                if not module.weight.requires_grad:  # a trainable bias alone: its block is S (A = E[1])
                    x = x[:, :0]
                if module.bias is not None and module.bias.requires_grad:
                    x = torch.cat([x, x.new_ones((x.shape[0], 1))], dim=1)
                key = id(module)
                sums_a[key] = sums_a.get(key, 0) + x.T @ x
                sums_s[key] = sums_s.get(key, 0) + dy.T @ dy
        if tokens == 0:
            raise ValueError("the K-FAC sample has no loss token")
        blocks = []
        for module in modules:
            key = id(module)
            a = (sums_a[key] / tokens).double()
            s = (sums_s[key] / tokens).double()
            lam_a, q_a = torch.linalg.eigh(a)
            lam_s, q_s = torch.linalg.eigh(s)
            lam_a, lam_s = lam_a.clamp(min=0), lam_s.clamp(min=0)
            scale = float(lam_a.mean() * lam_s.mean())
            bias = names.get(id(module.bias)) if module.bias is not None and module.bias.requires_grad else None
            blocks.append(_Block(weight=names.get(id(module.weight)), bias=bias, transposed=not isinstance(module, nn.Linear),
                                 q_a=q_a.float(), lam_a=lam_a.float(), q_s=q_s.float(), lam_s=lam_s.float(),
                                 damping=damping * scale if scale > 0 else damping))
        return cls(blocks, tokens)

    def apply(self, grads: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``(A ⊗ S + λ I)^-1`` applied to each row's gradient of every layer (``grads``: parameter name ->
        ``(batch, numel)``, each in its parameter's layout); returns a new dict."""
        out = dict(grads)
        for block in self.blocks:
            n = grads[block.weight or block.bias].shape[0]  # type: ignore[index]
            out_dim, in_dim = block.q_s.shape[0], block.q_a.shape[0] - (1 if block.bias else 0)
            if block.weight is None:
                g = torch.zeros((n, out_dim, 0), device=grads[block.bias].device)  # type: ignore[index]
            elif block.transposed:
                g = grads[block.weight].reshape(n, in_dim, out_dim).transpose(1, 2)
            else:
                g = grads[block.weight].reshape(n, out_dim, in_dim)
            if block.bias:
                g = torch.cat([g, grads[block.bias].reshape(n, out_dim, 1)], dim=2)
            q_a, q_s = block.q_a.to(g.device), block.q_s.to(g.device)
            rotated = q_s.T @ g @ q_a
            rotated = rotated / (block.lam_s.to(g.device)[:, None] * block.lam_a.to(g.device)[None, :] + block.damping)
            h = q_s @ rotated @ q_a.T
            if block.bias:
                out[block.bias] = h[:, :, -1].reshape(n, -1)
                h = h[:, :, :-1]
            if block.weight is not None:
                out[block.weight] = (h.transpose(1, 2) if block.transposed else h).reshape(n, -1)
        return out


__all__ = ["KFAC"]
