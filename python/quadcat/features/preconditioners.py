"""What a per-example gradient is turned into before projection, by name.

- ``adam`` (LESS's, for pool rows): the Adam update direction after one step from the checkpoint's saved
  state, ``m' / sqrt(v' + eps)`` with ``m' = b1 m + (1 - b1) g`` and ``v' = b2 v + (1 - b2) g^2`` (no bias
  correction; betas and eps from the optimizer's parameter group), exactly as LESS's
  ``obtain_gradients_with_adam``.
- ``adam-v``: the gradient scaled by the saved second moment only, ``g / sqrt(v + eps)`` (no momentum).
- ``none`` (LESS's, for validation rows): the plain gradient.
- ``kfac`` (Quad's influence): the damped inverse of a Kronecker-factored Gauss-Newton matrix per linear
  layer, estimated over a sample of the pool at each checkpoint (:mod:`quadcat.features.kfac`); applied
  by the pipeline before projection, so it needs no optimizer state.
"""
from typing import Optional

import torch

from .checkpoints import AdamState

NAMES = ("adam", "adam-v", "none", "kfac")


def needs_optimizer_state(name: str) -> bool:
    if name not in NAMES:
        raise ValueError(f"unknown preconditioner {name!r}: {', '.join(NAMES)}")
    return name in ("adam", "adam-v")


def precondition(name: str, g: torch.Tensor, parameter: str, state: Optional[AdamState]) -> torch.Tensor:
    """``g``: ``(batch, numel)`` float32 gradients of one parameter; returns the preconditioned rows."""
    if name in ("none", "kfac"):  # kfac is applied to whole layers before this (KFAC.apply)
        return g
    assert state is not None
    m = state.exp_avg[parameter].to(g.device)
    v = state.exp_avg_sq[parameter].to(g.device)
    b1, b2 = state.betas[parameter]
    eps = state.eps[parameter]
    if name == "adam":
        m_next = b1 * m + (1 - b1) * g
        v_next = b2 * v + (1 - b2) * g * g
        return m_next / torch.sqrt(v_next + eps)
    return g / torch.sqrt(v + eps)


__all__ = ["NAMES", "needs_optimizer_state", "precondition"]
