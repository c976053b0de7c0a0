"""Shard sets built by the engine: a directory of document shards and their feature files in, a verified
shard set out (``quadcat.ray.build``, ``python -m quadcat.ray build``; docs/ARCHITECTURE.md, "Shard sets").

The inputs directory pairs files by name. Each document file is one shard; its feature files start with
its stem::

    INPUTS/
      shard-00000.parquet          documents: .parquet, .jsonl, .jsonl.gz or .jsonl.zst (one file a shard)
      shard-00000.emb.npy          column emb: an embedding, one row per document, in document order
      shard-00000.grad@1.npy       column grad, checkpoint 1: a gradient (its learning rate given by lr)
      shard-00000.grad@1.ids       optional: the document id of each row of grad@1 (gradients for a sample)
      shard-00001.parquet          the next shard, with the same columns
      ...
      targets/val.grad@1.npy       target val's column grad@1, added to every shard
      targets/val.emb.npy
      targets/val.subtasks.txt     optional: one subtask label per validation row

A feature file is ``STEM.LABEL.npy`` or ``STEM.LABEL.safetensors`` (one tensor), LABEL being a column's
label as ``quadcat set info`` prints it: ``name@checkpoint`` for a gradient, ``name`` for an embedding.
Shards enter the set in the order of their stems, numbers compared as numbers (shard-2 before shard-10).
Every shard must have every column; a missing, extra or doubled file is refused by name before anything
is built.

Each shard is one task (a Ray task, or a local thread running processes): ``quadcat init``, ``ingest``,
``attach`` per column and ``target add`` per target column, into ``SET/shards/STEM.quadcat``. When the
catalog is complete the task writes ``SET/shards/STEM.done`` (written beside and renamed), so a finished
shard is never built again; a task that died half way left no done file, and its retry removes the
half-built catalog and starts the shard over. Then the shards not yet in the set are added in order
(``quadcat set add``) and the set is verified (``quadcat set verify``).
"""
import json
import os
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from .catalog import Catalog
from .errors import QuadcatError
from .shards import ShardSet

PathLike = Union[str, "os.PathLike[str]"]

DOCUMENT_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".jsonl.zst")
MATRIX_SUFFIXES = (".npy", ".safetensors")

BuildHook = Callable[[int, str], None]
"""Called inside each shard's task with (shard index, phase): ``"start"``, then ``"ingested"`` once its
documents are in (for monitoring, and for tests that kill a task half way)."""


@dataclass
class ColumnFile:
    """One feature file of a shard: its matrix and, for a partial column, its ids file."""

    label: str
    path: str
    ids: Optional[str] = None

    @property
    def name(self) -> str:
        return self.label.split("@")[0]

    @property
    def checkpoint(self) -> Optional[int]:
        return int(self.label.split("@")[1]) if "@" in self.label else None


@dataclass
class ShardInputs:
    """One shard's files: its documents and its columns, by label."""

    index: int
    stem: str
    documents: str
    columns: Dict[str, ColumnFile] = field(default_factory=dict)

    def sizes(self) -> Dict[str, int]:
        """Every input file's size: a shard built from other files is not taken as done."""
        paths = [self.documents] + [p for c in self.columns.values() for p in (c.path, c.ids) if p]
        return {os.path.basename(p): os.path.getsize(p) for p in paths}


@dataclass
class BuildInputs:
    """What an inputs directory holds: the shards in order and the targets' files."""

    shards: List[ShardInputs]
    targets: Dict[str, Dict[str, str]]
    subtasks: Dict[str, str]


def discover(inputs: PathLike, *, shards: Optional[int] = None) -> BuildInputs:
    """Pairs the files of ``inputs`` into shards (see the module's docstring); ``shards``: the number of
    document files expected (a check against a partial copy). Raises :class:`QuadcatError` naming the
    file at fault."""
    root = Path(inputs)
    if not root.is_dir():
        raise QuadcatError(f"{root}: no such directory (the inputs: document shards and their feature files)")
    names = sorted(p.name for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    stems: Dict[str, str] = {}
    for name in names:
        suffix = next((s for s in DOCUMENT_SUFFIXES if name.endswith(s)), None)
        if suffix is None:
            continue
        stem = name[: -len(suffix)]
        if stem in stems:
            raise QuadcatError(f"{root / stems[stem]} and {root / name} are both documents of shard {stem!r}: keep one")
        stems[stem] = name
    if not stems:
        raise QuadcatError(f"{root} holds no document shards ({', '.join('*' + s for s in DOCUMENT_SUFFIXES)})")
    if shards is not None and len(stems) != shards:
        raise QuadcatError(f"{root} holds {len(stems)} document shards, not the {shards} expected: "
                           + ", ".join(stems[s] for s in sorted(stems, key=_natural)))
    ordered = sorted(stems, key=_natural)
    found = [ShardInputs(index=i, stem=s, documents=os.fspath(root / stems[s])) for i, s in enumerate(ordered)]
    by_stem = {s.stem: s for s in found}
    ids: Dict[tuple, str] = {}
    for name in names:
        if name in stems.values() or not name.endswith(MATRIX_SUFFIXES + (".ids",)):
            continue
        stem = max((s for s in stems if name.startswith(s + ".")), key=len, default=None)
        if stem is None:
            raise QuadcatError(f"{root / name} belongs to no shard: its name does not start with a document file's "
                               f"stem and a dot (e.g. {ordered[0]}.emb.npy beside {stems[ordered[0]]})")
        label, suffix = os.path.splitext(name[len(stem) + 1:])
        if not _valid_label(label):
            raise QuadcatError(f"{root / name}: {label!r} is not a column label (name for an embedding, name@checkpoint for a gradient)")
        if suffix == ".ids":
            ids[(stem, label)] = os.fspath(root / name)
            continue
        shard = by_stem[stem]
        if label in shard.columns:
            raise QuadcatError(f"{shard.columns[label].path} and {root / name} are both column {label} of shard {stem!r}: keep one")
        shard.columns[label] = ColumnFile(label=label, path=os.fspath(root / name))
    for (stem, label), path in ids.items():
        if label not in by_stem[stem].columns:
            raise QuadcatError(f"{path} names the rows of a column with no matrix file (expected {root / stem}.{label}.npy or .safetensors)")
        by_stem[stem].columns[label].ids = path
    _check_same_columns(root, found, stems)
    targets, subtasks = _discover_targets(root / "targets")
    return BuildInputs(shards=found, targets=targets, subtasks=subtasks)


def _check_same_columns(root: Path, shards: List[ShardInputs], documents: Mapping[str, str]) -> None:
    labels = sorted({label for s in shards for label in s.columns})
    for label in labels:
        having = [s for s in shards if label in s.columns]
        for shard in shards:
            if label not in shard.columns:
                raise QuadcatError(f"{root / (shard.stem + '.' + label)}.npy is missing: shard {shard.stem!r} "
                                   f"({documents[shard.stem]}) has no column {label}, which {os.path.basename(having[0].columns[label].path)} gives shard {having[0].stem!r}")
        partial = [s for s in shards if s.columns[label].ids]
        if partial and len(partial) != len(shards):
            missing = next(s for s in shards if not s.columns[label].ids)
            raise QuadcatError(f"{root / (missing.stem + '.' + label)}.ids is missing: column {label} has ids files "
                               f"(a sample of rows) for other shards, e.g. {os.path.basename(partial[0].columns[label].ids or '')}")


def _discover_targets(directory: Path):
    targets: Dict[str, Dict[str, str]] = {}
    subtasks: Dict[str, str] = {}
    if not directory.is_dir():
        return targets, subtasks
    for path in sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")):
        if path.name.endswith(".subtasks.txt"):
            subtasks[path.name[: -len(".subtasks.txt")]] = os.fspath(path)
            continue
        base, suffix = os.path.splitext(path.name)
        if suffix not in MATRIX_SUFFIXES or "." not in base:
            raise QuadcatError(f"{path}: a target file is TARGET.LABEL.npy, TARGET.LABEL.safetensors or TARGET.subtasks.txt")
        name, label = base.split(".", 1)
        if not _valid_label(label):
            raise QuadcatError(f"{path}: {label!r} is not a column label (name for an embedding, name@checkpoint for a gradient)")
        if label in targets.setdefault(name, {}):
            raise QuadcatError(f"{targets[name][label]} and {path} are both column {label} of target {name!r}: keep one")
        targets[name][label] = os.fspath(path)
    for name, path in subtasks.items():
        if name not in targets:
            raise QuadcatError(f"{path} labels target {name!r}, which has no column files ({directory}/{name}.LABEL.npy)")
    return targets, subtasks


def _natural(stem: str) -> List[Any]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", stem) if part]


def _valid_label(label: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_\-]+(@[0-9]+)?", label) is not None


@dataclass
class BuildOptions:
    """How every shard is built: the corpus name, the documents' id and text fields, each gradient
    checkpoint's learning rate, the gradients' projection identity and the storage precision."""

    corpus: str = "pool"
    id_field: str = "id"
    text_field: str = "text"
    learning_rates: Dict[int, float] = field(default_factory=dict)
    projection: Optional[str] = None
    precision: Optional[str] = None


def build(set_path: PathLike, inputs: PathLike, *, shards: Optional[int] = None, engine: str = "ray",
          corpus: str = "pool", id_field: str = "id", text_field: str = "text",
          learning_rates: Optional[Mapping[int, float]] = None, projection: Optional[str] = None,
          precision: Optional[str] = None, max_retries: int = 3, parallel: Optional[int] = None,
          verify: str = "deep", hook: Optional[BuildHook] = None) -> Dict[str, Any]:
    """Builds the shard set ``set_path`` from the directory ``inputs`` (see the module's docstring).

    ``engine``: ``"ray"`` (one Ray task per shard, retried ``max_retries`` times when its worker dies;
    Ray must be initialised, or is started locally) or ``"local"`` (``parallel`` shards at once on this
    machine). ``learning_rates``: checkpoint -> learning rate, for every gradient checkpoint present.
    ``verify``: ``"deep"`` (every chunk checksum), ``"quick"`` or ``"none"``. Rerunning a build finishes
    what an earlier one left: done shards are kept, the others built, the rest added. Returns
    ``{"shards": [per-shard reports], "set": set info, "verify": verify report}``.
    """
    found = discover(inputs, shards=shards)
    options = BuildOptions(corpus=corpus, id_field=id_field, text_field=text_field,
                           learning_rates={int(k): float(v) for k, v in (learning_rates or {}).items()},
                           projection=projection, precision=precision)
    for label in sorted({label for s in found.shards for label in s.columns}):
        checkpoint = ColumnFile(label, "").checkpoint
        if checkpoint is not None and checkpoint not in options.learning_rates:
            raise QuadcatError(f"column {label} is a gradient of checkpoint {checkpoint}, with no learning rate: "
                               f"pass learning_rates={{{checkpoint}: LR}} (--lr {checkpoint}=LR)")
    if verify not in ("deep", "quick", "none"):
        raise ValueError(f"verify must be 'deep', 'quick' or 'none', not {verify!r}")
    root = Path(set_path)
    shard_set = ShardSet(root) if (root / "set.json").is_file() else ShardSet.create(root, corpus=corpus)
    (root / "shards").mkdir(exist_ok=True)
    tasks = [(os.fspath(root), shard, found.targets, found.subtasks, options) for shard in found.shards]
    if engine == "local":
        reports = _locally(tasks, parallel, hook)
    elif engine == "ray":
        reports = _on_ray(tasks, max_retries, hook)
    else:
        raise ValueError(f"engine must be 'ray' or 'local', not {engine!r}")
    info = _add_in_order(shard_set, [root / "shards" / f"{s.stem}.quadcat" for s in found.shards])
    verified = shard_set.verify(quick=verify == "quick") if verify != "none" else {"damage": []}
    if verified.get("damage"):
        raise QuadcatError(f"shard set {root} failed verification after the build: " + "; ".join(verified["damage"]))
    return {"shards": reports, "set": info, "verify": verified}


def build_shard(set_path: str, shard: ShardInputs, targets: Mapping[str, Mapping[str, str]],
                subtasks: Mapping[str, str], options: BuildOptions, hook: Optional[BuildHook] = None) -> Dict[str, Any]:
    """One shard's task: its catalog ``SET/shards/STEM.quadcat`` built with the ordinary commands, then
    ``STEM.done`` written. A done shard is returned as it is; a half-built one is removed first."""
    directory = Path(set_path) / "shards"
    catalog_path, done = directory / f"{shard.stem}.quadcat", directory / f"{shard.stem}.done"
    sizes = shard.sizes()
    if done.is_file():
        record = json.loads(done.read_text())
        if record.get("inputs") != sizes:
            raise QuadcatError(f"{done}: shard {shard.stem!r} was built from other inputs ({record.get('inputs')}), "
                               f"not {sizes}: remove {done} and {catalog_path} to build it again")
        return {**record, "skipped": True}
    if hook is not None:
        hook(shard.index, "start")
    if catalog_path.exists():
        shutil.rmtree(catalog_path)  # a task that died half way: start the shard over
    catalog = Catalog(catalog_path).create()
    ingested = _naming(shard.documents, lambda: _ingest(catalog, shard.documents, options))
    if hook is not None:
        hook(shard.index, "ingested")
    for label in sorted(shard.columns):
        column = shard.columns[label]
        _naming(column.path, lambda: catalog.attach(
            column.path, corpus=options.corpus, column=column.name, checkpoint=column.checkpoint,
            lr=options.learning_rates.get(column.checkpoint) if column.checkpoint is not None else None,
            projection=options.projection if column.checkpoint is not None else None,
            precision=options.precision, ids=column.ids))
    for name in sorted(targets):
        for i, label in enumerate(sorted(targets[name])):
            path = targets[name][label]
            column = ColumnFile(label, path)
            _naming(path, lambda: catalog.add_target(
                name, path, checkpoint=column.checkpoint, column=column.name,
                projection=options.projection if column.checkpoint is not None else None,
                subtasks=subtasks.get(name) if i == 0 else None))
    record = {"shard": shard.stem, "index": shard.index, "catalog": os.fspath(catalog_path), "rows": ingested.rows_added,
              "inputs": sizes}
    partial = done.with_name(f".{done.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(record, sort_keys=True))
    os.replace(partial, done)
    return {**record, "skipped": False}


def _ingest(catalog: Catalog, documents: str, options: BuildOptions):
    if documents.endswith(".parquet"):
        return catalog.ingest_parquet(documents, corpus=options.corpus, id_column=options.id_field, text_column=options.text_field)
    return catalog.ingest(documents, corpus=options.corpus, id_field=options.id_field, text_field=options.text_field)


def _naming(path: str, action: Callable[[], Any]) -> Any:
    """Runs ``action``; a failure is raised again with the input file's name in front."""
    try:
        return action()
    except QuadcatError as error:
        raise QuadcatError(f"{path}: {error.message}", status=error.status, command=error.command, stderr=error.stderr) from None


def _add_in_order(shard_set: ShardSet, catalogs: List[Path]) -> Dict[str, Any]:
    """Adds the catalogs the set does not hold yet, in order; the set's shards must be a prefix of them."""
    present = [os.path.realpath(shard_set.path / s["path"]) for s in shard_set.info().get("shards", [])]
    wanted = [os.path.realpath(c) for c in catalogs]
    if present != wanted[: len(present)]:
        raise QuadcatError(f"shard set {shard_set.path} already holds shards that are not the first {len(present)} of "
                           f"this build ({present[:3]}...): build into a new set directory")
    missing = catalogs[len(present):]
    return shard_set.add(*missing) if missing else shard_set.info()


def _locally(tasks: List[tuple], parallel: Optional[int], hook: Optional[BuildHook]) -> List[Dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=parallel or os.cpu_count() or 1) as pool:
        futures = [pool.submit(build_shard, *task, hook) for task in tasks]
        errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
        return [f.result() for f in futures]


def _on_ray(tasks: List[tuple], max_retries: int, hook: Optional[BuildHook]) -> List[Dict[str, Any]]:
    from .ray import _get, _ray
    ray = _ray()
    if not ray.is_initialized():
        ray.init()
    remote = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=False)(build_shard)
    return _get(ray, [remote.remote(*task, hook) for task in tasks])


def _pairs(values: List[str], what: str) -> Dict[int, float]:
    out: Dict[int, float] = {}
    for item in values:
        key, sep, value = item.partition("=")
        try:
            out[int(key)] = float(value)
        except ValueError:
            raise QuadcatError(f"{what} {item!r} is not CHECKPOINT=VALUE (e.g. 1=2e-5)", status=64) from None
    return out


def add_arguments(parser: Any) -> None:
    """The options of ``python -m quadcat.ray build``."""
    parser.add_argument("set", help="the shard set directory (created when missing)")
    parser.add_argument("inputs", help="the directory of document shards and their feature files")
    parser.add_argument("--shards", type=int, help="the number of document shards expected")
    parser.add_argument("--corpus", default="pool", help="the corpus name in every shard (default pool)")
    parser.add_argument("--id-field", default="id", help="the documents' id field or Parquet column (default id)")
    parser.add_argument("--text-field", default="text", help="the documents' text field or Parquet column (default text)")
    parser.add_argument("--lr", action="append", default=[], help="CHECKPOINT=LR for each gradient checkpoint (repeatable)")
    parser.add_argument("--projection", help="the gradients' projection identity KIND[:SEED[:DIM]]")
    parser.add_argument("--precision", help="storage precision of every column (as quadcat attach)")
    parser.add_argument("--verify", choices=["deep", "quick", "none"], default="deep")
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument("--parallel", type=int, help="shards at once with --engine local (default: the cores)")


def run_from_arguments(args: Any) -> int:
    """``python -m quadcat.ray build ...`` once Ray (if used) is initialised; prints a summary."""
    report = build(args.set, args.inputs, shards=args.shards, engine=args.engine, corpus=args.corpus,
                   id_field=args.id_field, text_field=args.text_field, learning_rates=_pairs(args.lr, "--lr"),
                   projection=args.projection, precision=args.precision, max_retries=args.max_retries,
                   parallel=args.parallel, verify=args.verify)
    built = sum(not r["skipped"] for r in report["shards"])
    info = report["set"]
    print(f"{args.set}: {len(info['shards'])} shards, {info['rows']} rows ({built} built now, "
          f"{len(report['shards']) - built} done before); verify: {args.verify}, no damage", file=sys.stdout)
    return 0


__all__ = ["BuildInputs", "BuildOptions", "ColumnFile", "ShardInputs", "build", "build_shard", "discover"]
