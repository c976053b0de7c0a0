"""Features for a shard set: each shard's columns computed by a Ray task on the node that holds it.

A shard set's shards are ordinary catalogs holding consecutive slices of one corpus (docs/ARCHITECTURE.md,
"Shard sets"); ``set add`` checks that they share columns, projections and targets. So features are
computed shard by shard, each by :func:`quadcat.features.collect` in its own Ray task (a GPU requested per
task when the cluster has GPUs; ``placement`` maps a shard to the node that holds it), then the shards are
added to the set in order and the set is verified. A task whose shard already has every column is not
redone; a retried task resumes its shard's work directory. With shard sizes that are multiples of the
batch size, every row is computed in the same batch as on the single catalog, so the columns are equal
bit for bit.
"""
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

PathLike = Union[str, "os.PathLike[str]"]


def collect_shards(set_path: PathLike, shards: Sequence[PathLike], *, engine: str = "ray", max_retries: int = 2,
                   placement: Optional[Mapping[int, str]] = None, gpus_per_task: Optional[float] = None,
                   corpus: str = "pool", **options: Any) -> Dict[str, Any]:
    """Computes features for every shard catalog (``options`` are :func:`quadcat.features.collect`'s, the
    same for every shard), then adds the shards to the set at ``set_path`` (created when missing) in order
    and verifies it. ``engine``: ``"ray"`` (one task per shard) or ``"local"`` (one after another, in this
    process). Returns ``{"shards": [per-shard reports], "set": set info, "verify": verify report}``."""
    from ..shards import ShardSet
    paths = [Path(s) for s in shards]
    options = {**options, "corpus": corpus, "progress": options.get("progress", False)}
    if engine == "local":
        reports = [_shard_task(os.fspath(p), options) for p in paths]
    elif engine == "ray":
        reports = _on_ray(paths, options, max_retries, placement, gpus_per_task)
    else:
        raise ValueError(f"engine must be 'ray' or 'local', not {engine!r}")
    target = Path(set_path)
    shard_set = ShardSet(target) if (target / "set.json").is_file() else ShardSet.create(target, corpus=corpus)
    present = {os.path.realpath(target / s["path"]) for s in shard_set.info().get("shards", [])}
    missing = [p for p in paths if os.path.realpath(p) not in present]
    info = shard_set.add(*missing) if missing else shard_set.info()
    verified = shard_set.verify()
    if verified.get("damage"):
        raise RuntimeError(f"shard set {target} failed verification after the features: {verified['damage']}")
    return {"shards": reports, "set": info, "verify": verified}


def _on_ray(paths: List[Path], options: Dict[str, Any], max_retries: int, placement: Optional[Mapping[int, str]],
            gpus_per_task: Optional[float]) -> List[Dict[str, Any]]:
    from ..ray import _ray
    ray = _ray()
    if not ray.is_initialized():
        ray.init()
    if gpus_per_task is None:
        gpus_per_task = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
    remote = ray.remote(num_cpus=1, num_gpus=gpus_per_task, max_retries=max_retries, retry_exceptions=True)(_shard_task)
    refs = []
    for index, path in enumerate(paths):
        task_options: Dict[str, Any] = {}
        if placement and index in placement:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
            task_options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=placement[index], soft=True)
        refs.append(remote.options(**task_options).remote(os.fspath(path), options))
    return ray.get(refs)


def _shard_task(shard: str, options: Dict[str, Any]) -> Dict[str, Any]:
    """One shard's features (the task body): skipped when the shard already has every column."""
    from dataclasses import asdict
    from ..catalog import Catalog
    from .pipeline import collect
    if _complete(Catalog(shard), options):
        return {"shard": shard, "skipped": True}
    report = collect(shard, **options)
    return {"shard": shard, "skipped": False, **asdict(report)}


def _complete(catalog: Any, options: Mapping[str, Any]) -> bool:
    """Whether a previous attempt finished: every gradient checkpoint (and the embedding and the target's
    columns, when asked for) is in the shard. The columns are attached last, so a run killed before
    then is not complete and resumes its work directory."""
    info = catalog.info()
    columns = {(c.name, c.checkpoint) for c in info.corpus(options["corpus"]).columns}
    checkpoints = len(options.get("checkpoints") or ()) or 1
    wanted = {(options.get("gradient_column", "grad"), c) for c in range(1, checkpoints + 1)}
    if options.get("embed"):
        wanted.add((options.get("embedding_column", "emb"), 0))
    if not wanted <= columns:
        return False
    if options.get("target"):
        target = [t for t in info.targets if t.name == options["target"]]
        if not target or len(target[0].columns) < checkpoints + bool(options.get("embed")):
            return False
    return True


__all__ = ["collect_shards"]
