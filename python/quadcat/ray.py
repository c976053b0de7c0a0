"""quadcat.ray: shard-set selections with every step a Ray task (docs/ARCHITECTURE.md, "Shard sets").

quadcat does not grow a cluster manager: the engine users already run does. Each step of a job (one
``quadcat step`` call that reads one shard and writes one small result file atomically) becomes a Ray
task that runs the quadcat binary found on its worker; shards sit on a shared file system (or, with
``placement``, steps run on the node that holds their shard). Steps are idempotent, so Ray's task
retries make a dead worker harmless: the retry writes the same result, and a merge only ever reads
complete result files. Merges run on the driver (this process), through the same binary.

>>> import ray, quadcat.ray
>>> ray.init(num_cpus=2)
>>> subset = quadcat.ray.select("pool.set", selector="gtp", target="val", budget="5%", name="val-gtp")

From a shell: ``python -m quadcat.ray select pool.set --selector gtp --target val --budget 5% --as val-gtp``.

Shard sets are built the same way, one task per shard (:mod:`quadcat.build` says how inputs are laid out):
``quadcat.ray.build("pool.set", "inputs/", shards=32, learning_rates={1: 2e-5})`` or
``python -m quadcat.ray build pool.set inputs/ --shards 32 --lr 1=2e-5 --projection rademacher:7:8192``.
"""
import argparse
import os
import subprocess
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from ._binary import binary
from .errors import QuadcatError
from .shards import Job, ShardSet
from .subset import Subset

PathLike = Union[str, "os.PathLike[str]"]

StepHook = Callable[[int, int], None]
"""Called inside each task before its step runs, with (round, shard): for monitoring (and tests)."""


def _ray():
    try:
        import ray  # the Ray package, not this module: absolute import
    except ImportError:
        raise QuadcatError("quadcat.ray needs Ray: pip install 'quadcat[ray]' (or pip install ray)", status=1) from None
    return ray


def _run_step(args: List[str], executable: Optional[str], hook: Optional[StepHook]) -> str:
    """The task body: runs ``quadcat ARGS`` (a ``step``) on this worker; raises with the tool's words."""
    if hook is not None:
        hook(_job_round(args[1]), int(args[args.index("--shard") + 1]))
    command = [executable or binary(), *args]
    result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if result.returncode != 0:
        from ._cli import _failure
        raise _failure(args, result.returncode, result.stderr)
    return args[-1]


def _job_round(job_path: str) -> int:
    import json
    with open(os.path.join(job_path, "job.json")) as handle:
        return int(json.load(handle)["round"])


def ray_steps(*, executable: Optional[str] = None, max_retries: int = 3, num_cpus: float = 1,
              placement: Optional[Mapping[int, str]] = None, hook: Optional[StepHook] = None):
    """A step runner that runs each step as a Ray task (``max_retries`` retries when a worker dies;
    ``placement``: shard index -> Ray node id, a soft preference for the node holding the shard)."""
    ray = _ray()
    remote = ray.remote(num_cpus=num_cpus, max_retries=max_retries, retry_exceptions=False)(_run_step)

    def run(steps: List[List[str]]) -> None:
        refs = []
        for args in steps:
            options: Dict[str, Any] = {}
            if placement:
                shard = int(args[args.index("--shard") + 1])
                if shard in placement:
                    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
                    options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=placement[shard], soft=True)
            refs.append(remote.options(**options).remote(args, executable, hook))
        _get(ray, refs)

    return run


def _get(ray: Any, refs: List[Any]) -> List[Any]:
    """The tasks' results; a task's :class:`QuadcatError` is raised as it is (the tool's words)."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as error:
        cause = error.cause if hasattr(error, "cause") else error
        if isinstance(cause, QuadcatError):
            raise cause from None
        raise


def select(set_path: PathLike, *, selector: str, budget: Union[int, str], name: str, target: Optional[str] = None,
           params: Optional[Mapping[str, Any]] = None, seed: int = 0, checkpoints: Optional[Sequence[int]] = None,
           gradient_column: Optional[str] = None, embedding_column: Optional[str] = None, engine: str = "ray",
           max_retries: int = 3, placement: Optional[Mapping[int, str]] = None, hook: Optional[StepHook] = None,
           executable: Optional[str] = None, merge_fan_in: Optional[int] = None) -> Subset:
    """Runs a selection over a shard set and returns the subset stored in its head.

    ``engine``: ``"ray"`` (every step a Ray task; Ray must be initialised, or is started locally) or
    ``"local"`` (the same plan on local processes). The other options are those of
    :meth:`quadcat.ShardSet.plan`. The subset equals the single catalog's for LESS, RDS, random, GTP and
    Quad (SPICE and the DPP run two rounds, GreeDi), whatever the engine and the split. Over more than
    ``merge_fan_in`` shards (default 8) GreeDi merges as a tree: each inner merge is a task too.
    """
    shards = ShardSet(set_path)
    options = dict(selector=selector, budget=budget, name=name, target=target, params=params, seed=seed,
                   checkpoints=checkpoints, gradient_column=gradient_column, embedding_column=embedding_column,
                   merge_fan_in=merge_fan_in)
    if engine == "local":
        from .shards import local_steps
        return shards.run(shards.plan(engine="local processes", **options), local_steps(executable=executable))
    if engine != "ray":
        raise ValueError(f"engine must be 'ray' or 'local', not {engine!r}")
    ray = _ray()
    if not ray.is_initialized():
        ray.init()
    runner = ray_steps(executable=executable, max_retries=max_retries, placement=placement, hook=hook)
    return shards.run(shards.plan(engine="ray", **options), runner)


def features(set_path: PathLike, shards: Sequence[PathLike], **options: Any) -> Dict[str, Any]:
    """Computes each shard's gradient and embedding columns in a Ray task (a GPU per task when the cluster
    has GPUs), then adds the shards to the set in order and verifies it: see
    :func:`quadcat.features.sharded.collect_shards` (``options`` are :func:`quadcat.features.collect`'s)."""
    from .features.sharded import collect_shards
    return collect_shards(set_path, shards, **options)


def build(set_path: PathLike, inputs: PathLike, *, shards: Optional[int] = None, **options: Any) -> Dict[str, Any]:
    """Builds a shard set from a directory of Parquet or JSONL shards and their embedding and gradient
    files, one Ray task per shard (ingest, attach, target add), then adds the shards in order and
    verifies the set: see :func:`quadcat.build.build` (``options`` are its own; ``shards``: the number
    of document shards expected). A task whose worker dies is retried; a finished shard is never redone."""
    from .build import build as build_set
    return build_set(set_path, inputs, shards=shards, **options)


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m quadcat.ray select SET --selector S --budget B --as NAME [...]`` or
    ``python -m quadcat.ray build SET INPUTS [--shards N] [--lr 1=2e-5 ...] [...]``."""
    from . import build as building
    parser = argparse.ArgumentParser(prog="python -m quadcat.ray", description="Build a shard set, or run a selection over one, on Ray.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("select", help="select over a shard set, every step a Ray task")
    run.add_argument("set")
    run.add_argument("--selector", required=True)
    run.add_argument("--budget", required=True)
    run.add_argument("--as", dest="name", required=True)
    run.add_argument("--target")
    run.add_argument("--param", action="append", default=[], help="key=value (repeatable)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--engine", choices=["ray", "local"], default="ray")
    run.add_argument("--address", help="a running Ray cluster (default: start a local one)")
    run.add_argument("--num-cpus", type=int, help="CPUs of a local Ray")
    run.add_argument("--merge-fan-in", type=int, help="most results one spice/dpp merge reads (default 8); more shards merge as a tree")
    make = commands.add_parser(
        "build", help="build a shard set from a directory of document shards and feature files, one Ray task per shard",
        description="Build a shard set from INPUTS, one task per shard (ingest, attach, target add), then add the shards in "
                    "order and verify the set. INPUTS holds STEM.parquet|.jsonl|.jsonl.gz|.jsonl.zst (one file a shard), "
                    "STEM.LABEL.npy|.safetensors per column (LABEL: name@checkpoint for a gradient, name for an embedding), "
                    "optional STEM.LABEL.ids (the document ids of a sample's rows), and targets/NAME.LABEL.npy, "
                    "targets/NAME.subtasks.txt. A rerun skips the shards already done.")
    building.add_arguments(make)
    make.add_argument("--engine", choices=["ray", "local"], default="ray")
    make.add_argument("--address", help="a running Ray cluster (default: start a local one)")
    make.add_argument("--num-cpus", type=int, help="CPUs of a local Ray")
    args = parser.parse_args(argv)
    if args.engine == "ray":
        ray = _ray()
        ray.init(address=args.address, num_cpus=args.num_cpus) if args.address or args.num_cpus else ray.init()
    try:
        if args.command == "build":
            return building.run_from_arguments(args)
        params = dict(item.split("=", 1) for item in args.param)
        subset = select(args.set, selector=args.selector, budget=args.budget, name=args.name, target=args.target,
                        params=params, seed=args.seed, engine=args.engine, merge_fan_in=args.merge_fan_in)
    except QuadcatError as error:
        print(f"quadcat: error: {error}", file=sys.stderr)
        return 1
    print(f"{subset.reference}: {len(subset.rows)} rows selected by {subset.selector} (recipe {subset.recipe_hash[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
