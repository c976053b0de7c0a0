"""quadcat.ShardSet: one corpus split over several catalogs, selected step by step on an engine.

A shard set is a directory holding ``set.json`` and ``head.quadcat``; its shards are ordinary catalogs
holding consecutive slices of one corpus. A selection over it is a *job*: rounds of per-shard steps
(each one ``quadcat step`` call that reads one shard and writes one small result file atomically)
and merges (``quadcat merge``, which either starts the next round or stores the subset in the head).
The quadcat tool plans every round; this module and :mod:`quadcat.ray` only run the commands it
prints, so the engine never changes the result.

>>> shards = quadcat.ShardSet.create("pool.set", corpus="pool")
>>> shards.add("shard-0.quadcat", "shard-1.quadcat", "shard-2.quadcat")
>>> subset = shards.select(selector="less", target="val", budget="5%", name="val-less")   # local processes
>>> subset = quadcat.ray.select("pool.set", selector="gtp", target="val", budget="5%", name="val-gtp")
"""
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from . import _cli
from ._binary import binary
from .catalog import Catalog, _option, _param
from .errors import QuadcatError
from .subset import Subset

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class Job:
    """A sharded selection in progress, as the tool reports it after ``set plan`` or ``merge``.

    ``steps``: the argument lists (after the binary) of this round's steps, one per shard; ``merge``:
    the merge's. ``subset``: the stored subset's report once ``done``.
    """

    path: str
    round: int
    done: bool
    steps: List[List[str]]
    merge: List[str]
    subset: Optional[Dict[str, Any]] = None

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> "Job":
        return cls(path=report["job"], round=report["round"], done=report["done"], steps=report["steps"],
                   merge=report["merge"], subset=report.get("subset"))


StepRunner = Callable[[List[List[str]]], None]
"""Runs one round's steps (argument lists for the quadcat binary) to completion, raising on failure."""


class ShardSet:
    """A shard set directory (``quadcat set ...``)."""

    def __init__(self, path: PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"<quadcat.ShardSet {os.fspath(self.path)!r}>"

    @classmethod
    def create(cls, path: PathLike, *, corpus: str = "pool") -> "ShardSet":
        """Creates an empty set for ``corpus`` (``quadcat set init``)."""
        _cli.run_quietly(_cli.arguments("set", "init", path, "--corpus", corpus))
        return cls(path)

    def add(self, *shards: PathLike) -> Dict[str, Any]:
        """Appends shard catalogs in row order (``quadcat set add``); each is checked against the set
        (columns, projections, targets, no document twice) and refused with the reason. Returns the
        set's info."""
        return _cli.run_json(_cli.arguments("set", "add", self.path, *shards, "--json"))

    def info(self) -> Dict[str, Any]:
        """The shards (path, first row, rows), columns and targets (``quadcat set info``)."""
        return _cli.run_json(_cli.arguments("set", "info", self.path, "--json"))

    def verify(self, *, quick: bool = False) -> Dict[str, Any]:
        """Checks every shard and the set's files (``quadcat set verify``); damage is in the result's
        ``damage`` list (naming the shard), not raised."""
        return _cli.run_json(_cli.arguments("set", "verify", self.path, "--quick" if quick else None, "--json"), accept=(0, 1))

    @property
    def head(self) -> Catalog:
        """The head catalog: its subsets hold global rows; log, show, compare and export work on it."""
        return Catalog(self.path / "head.quadcat")

    def plan(self, *, selector: str, budget: Union[int, str], name: str, target: Optional[str] = None,
             params: Optional[Mapping[str, Any]] = None, seed: int = 0, checkpoints: Optional[Sequence[int]] = None,
             gradient_column: Optional[str] = None, embedding_column: Optional[str] = None,
             engine: str = "local processes", merge_fan_in: Optional[int] = None) -> Job:
        """Plans a selection (``quadcat set plan --json``): the job and its first round. ``engine`` is
        recorded in the subset's lineage. ``merge_fan_in``: the most step results one merge of SPICE or
        the DPP reads (default 8); more shards merge as a tree, each inner merge a step."""
        parameters = [arg for key, value in (params or {}).items() for arg in ("--param", f"{key}={_param(value)}")]
        report = _cli.run_json(_cli.arguments(
            "set", "plan", self.path, "--selector", selector, "--budget", budget, "--as", name, *_option("--target", target),
            *parameters, "--seed", seed, *_option("--checkpoints", ",".join(map(str, checkpoints)) if checkpoints else None),
            *_option("--gradient-column", gradient_column), *_option("--embedding-column", embedding_column),
            *_option("--merge-fan-in", merge_fan_in), "--engine", engine, "--json"))
        return Job.from_report(report)

    def run(self, job: Job, run_steps: StepRunner) -> Subset:
        """Runs a planned job to its end: each round's steps with ``run_steps``, then the merge, until the
        subset is stored in the head; returns it."""
        while not job.done:
            run_steps(job.steps)
            job = Job.from_report(_cli.run_json([*job.merge, "--json"]))
        assert job.subset is not None
        return self.head.subset(f"{job.subset['name']}@{job.subset['version']}")

    def select(self, *, selector: str, budget: Union[int, str], name: str, parallel: Optional[int] = None,
               **options: Any) -> Subset:
        """Plans and runs a selection on local processes (``parallel`` steps at once, default the CPU
        count): the plan :mod:`quadcat.ray` runs on Ray, without Ray. ``options``: those of :meth:`plan`."""
        job = self.plan(selector=selector, budget=budget, name=name, engine="local processes", **options)
        return self.run(job, local_steps(parallel))


def local_steps(parallel: Optional[int] = None, executable: Optional[str] = None) -> StepRunner:
    """A :data:`StepRunner` on local processes, ``parallel`` at once (default the CPU count)."""

    def run(steps: List[List[str]]) -> None:
        command = executable or binary()
        with ThreadPoolExecutor(max_workers=parallel or os.cpu_count() or 1) as pool:
            for args, result in zip(steps, pool.map(lambda args: _run_step(command, args), steps)):
                if result is not None:
                    raise result

    return run


def _run_step(command: str, args: List[str]) -> Optional[QuadcatError]:
    result = subprocess.run([command, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if result.returncode != 0:
        return _cli._failure(args, result.returncode, result.stderr)
    return None
