"""Features from a model: per-example projected gradients and embeddings, straight into a catalog.

:func:`collect` (``python -m quadcat features``) is the one call; the pieces are public for custom loops:
:class:`RademacherProjector` and :class:`SparseSignProjector` (the two projections, each reproducible
from its identity string), and, with torch installed, :mod:`quadcat.features.per_example`
(per-example gradients in batches), :mod:`quadcat.features.checkpoints` (HF Trainer checkpoints: adapter,
optimizer state, learning rate) and :mod:`quadcat.features.preconditioners`.
"""
from .projection import RademacherProjector, SparseSignProjector, projector_for, reference_entry


def collect(*args, **kwargs):
    """See :func:`quadcat.features.pipeline.collect` (imported on first use: it needs torch)."""
    from .pipeline import collect as run
    return run(*args, **kwargs)


__all__ = ["RademacherProjector", "SparseSignProjector", "collect", "projector_for", "reference_entry"]
