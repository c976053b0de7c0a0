"""quadcat.Catalog: a catalog directory, driven through the quadcat command-line tool."""
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _cli
from ._decode import decode
from .errors import QuadcatError
from .reports import (
    AttachReport, CatalogInfo, CompareReport, DiffReport, GCReport, IndexReport, IngestReport, SubsetInfo, TargetInfo,
    TargetReport, VerifyReport,
)
from .subset import Subset

PathLike = Union[str, "os.PathLike[str]"]


class Catalog:
    """A quadcat catalog directory (``cat.quadcat``).

    Every method runs one ``quadcat`` command with ``--json`` and returns what it reports as a
    dataclass (see :mod:`quadcat.reports`) or a :class:`Subset`; a failure raises
    :class:`quadcat.QuadcatError` with the tool's message and exit status. Nothing is cached but
    subset arrays, so several processes can share a catalog (one writer at a time; readers never wait).

    >>> cat = quadcat.Catalog("cat.quadcat").create()
    >>> cat.ingest("pool.jsonl", corpus="pool")
    >>> cat.attach("grads_ckpt1.npy", corpus="pool", column="grad", checkpoint=1, lr=1.69e-5)
    >>> cat.add_target("val", "val_ckpt1.npy", checkpoint=1)
    >>> subset = cat.select(corpus="pool", target="val", selector="less", budget="5%", name="val-less")
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"<quadcat.Catalog {os.fspath(self.path)!r}>"

    # Building it.

    def create(self) -> "Catalog":
        """Creates the empty catalog directory (``quadcat init``) and returns this catalog. Refuses a
        directory that exists and is not empty."""
        self._json("init")
        return self

    def ingest(self, files: Union[PathLike, Sequence[PathLike]], *, corpus: str, id_field: str = "id",
               text_field: str = "text", append: bool = False, index_fields: Sequence[str] = ()) -> IngestReport:
        """Ingests JSONL documents into ``corpus`` (``quadcat ingest``): one JSON object per line with an
        id and a text field; each record is kept byte for byte. ``append`` adds to a corpus that has
        no feature columns yet. ``index_fields``: record fields to keep as typed values for
        ``select(where=...)``. A malformed line or duplicate id leaves the catalog as it was."""
        paths = [files] if isinstance(files, (str, os.PathLike)) else list(files)
        return decode(IngestReport, self._json(
            "ingest", *paths, "--corpus", corpus, "--id-field", id_field, "--text-field", text_field,
            "--append" if append else None, *_repeated("--index-field", index_fields)))

    def index(self, corpus: str, fields: Union[str, Sequence[str]]) -> IndexReport:
        """Indexes record fields of ``corpus`` from its stored records (``quadcat index``), for
        ``select(where=...)``: text, integers and reals as typed values (booleans as 1 and 0; missing,
        null, objects and arrays read as NULL). Fields indexed already are left as they are."""
        names = [fields] if isinstance(fields, str) else list(fields)
        return decode(IndexReport, self._json("index", "--corpus", corpus, *_repeated("--field", names)))

    def ingest_parquet(self, files: Union[PathLike, Sequence[PathLike]], *, corpus: str, id_column: str = "id",
                       text_column: str = "text", columns: Optional[Sequence[str]] = None, batch_size: int = 8192,
                       append: bool = False, index_fields: Sequence[str] = ()) -> IngestReport:
        """Ingests Parquet files (FineWeb-style shards) into ``corpus`` with no conversion on disk: record
        batches are read with pyarrow and streamed to ``quadcat ingest CATALOG -`` as JSONL, one JSON
        object per row (``columns``: the columns to keep, default all), in file and row order. The id and
        text columns are named by ``id_column`` and ``text_column``. Needs pyarrow (``pip install pyarrow``;
        HF ``datasets`` brings it). A failure leaves the catalog as it was, as for any ingest."""
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise QuadcatError("ingest_parquet needs pyarrow: pip install pyarrow", status=1) from None
        paths = [files] if isinstance(files, (str, os.PathLike)) else list(files)
        keep = list(columns) if columns is not None else None
        if keep is not None:
            keep += [name for name in (id_column, text_column) if name not in keep]

        def lines() -> Iterator[bytes]:
            for path in paths:
                parquet = pq.ParquetFile(os.fspath(path))
                for batch in parquet.iter_batches(batch_size=batch_size, columns=keep):
                    for row in batch.to_pylist():
                        yield (json.dumps(row, ensure_ascii=False, default=_json_value) + "\n").encode("utf-8")

        args = self._command("ingest", "-", "--corpus", corpus, "--id-field", id_column, "--text-field", text_column,
                             "--append" if append else None, *_repeated("--index-field", index_fields))
        return decode(IngestReport, _cli.run_json_with_input(args, lines()))

    def attach(self, file: Union[PathLike, np.ndarray], *, corpus: str, column: str, checkpoint: Optional[int] = None,
               lr: Optional[float] = None, kind: Optional[str] = None, projection: Any = None,
               precision: Optional[str] = None, nonfinite: Optional[str] = None,
               ids: Union[None, PathLike, Sequence[str]] = None, tensor: Optional[str] = None,
               codec: Optional[str] = None) -> AttachReport:
        """Attaches a gradient checkpoint or an embedding column (``quadcat attach``).

        ``file``: a ``.npy`` (float32/float16) or ``.safetensors`` path, or a 2-D NumPy array (saved to
        a temporary ``.npy`` first). Row i is document row i unless ``ids`` (a file, or a list of
        document ids, one per row) says otherwise. A gradient column needs ``checkpoint`` and ``lr``.
        ``projection``: an identity string such as ``"rademacher:0:8192"`` or a projector with an
        ``identity`` (:class:`quadcat.features.RademacherProjector`). ``precision``: ``as-given``,
        ``f32``, ``f16``, ``bf16``, ``int8``, ``int4``. ``nonfinite``: ``reject`` or ``mark-unusable``.
        """
        with _as_file(file, ".npy", _save_npy) as matrix, _as_file(ids, ".ids", _save_lines) as ids_file:
            return decode(AttachReport, self._json(
                "attach", matrix, "--corpus", corpus, "--column", column, *_option("--checkpoint", checkpoint),
                *_option("--lr", None if lr is None else repr(float(lr))), *_option("--kind", kind),
                *_option("--projection", _projection(projection)), *_option("--precision", precision),
                *_option("--nonfinite", nonfinite), *_option("--ids", ids_file), *_option("--tensor", tensor),
                *_option("--codec", codec)))

    def add_target(self, name: str, file: Union[PathLike, np.ndarray], *, checkpoint: Optional[int] = None,
                   column: str = "grad", kind: Optional[str] = None, projection: Any = None,
                   subtasks: Union[None, PathLike, Sequence[str]] = None, tensor: Optional[str] = None) -> TargetReport:
        """Adds a column to target ``name`` (``quadcat target add``), creating the target on its first
        column: usually one checkpoint's validation gradients. ``subtasks``: one label per validation
        row (a file or a list), given once."""
        with _as_file(file, ".npy", _save_npy) as matrix, _as_file(subtasks, ".txt", _save_lines) as labels:
            return decode(TargetReport, self._json(
                ("target", "add"), name, matrix, *_option("--checkpoint", checkpoint), "--column", column,
                *_option("--kind", kind), *_option("--projection", _projection(projection)),
                *_option("--subtasks", labels), *_option("--tensor", tensor)))

    # Selecting.

    def select(self, *, corpus: str, selector: str, budget: Union[int, str], name: str, target: Optional[str] = None,
               params: Optional[Mapping[str, Any]] = None, seed: int = 0, checkpoints: Optional[Sequence[int]] = None,
               gradient_column: Optional[str] = None, embedding_column: Optional[str] = None,
               where: Optional[str] = None, within: Union[None, str, Subset] = None,
               exclude: Union[None, str, Subset, Sequence[Union[str, Subset]]] = None,
               exclude_ids: Union[None, PathLike, Sequence[str]] = None,
               dedup: Union[None, str, Tuple[str, float]] = None) -> Subset:
        """Runs a selector and stores its result as a new subset version (``quadcat select``).

        ``selector``: ``less``, ``gtp``, ``spice``, ``quad``, ``dpp``, ``rds`` or ``random``. ``budget``: a
        row count (``600``), a share of the corpus (``"5%"``) or of the rows a query leaves
        (``"5%-of-candidates"``). ``name``: an existing name gets version N+1. ``params``: selector
        parameters (``{"groups": 32}``; ``quadcat select --help`` lists them). The same request on the
        same data gives the same recipe and content hashes.

        The query narrows the rows the selector sees: ``where`` a predicate over indexed fields
        (``"domain != 'bible' AND n_tokens >= 64"``), ``within`` a subset, ``exclude`` one or more
        subsets, ``exclude_ids`` a file of document ids or a list of them. ``dedup``: the near-duplicate
        guard, ``"emb:0.95"`` or ``("emb", 0.95)``: no member has that cosine or more with another.
        """
        parameters = [arg for key, value in (params or {}).items() for arg in ("--param", f"{key}={_param(value)}")]
        excluded = [] if exclude is None else [exclude] if isinstance(exclude, (str, Subset)) else list(exclude)
        if isinstance(dedup, tuple):
            dedup = f"{dedup[0]}:{float(dedup[1])!r}"
        with _as_file(exclude_ids, ".ids", _save_lines) as ids_file:
            info = self._json(
                "select", "--corpus", corpus, *_option("--target", target), "--selector", selector, "--budget", budget,
                "--as", name, *parameters, "--seed", seed,
                *_option("--checkpoints", None if checkpoints is None else ",".join(str(c) for c in checkpoints)),
                *_option("--gradient-column", gradient_column), *_option("--embedding-column", embedding_column),
                *_option("--where", where), *_option("--within", _reference(within)),
                *_repeated("--exclude", [_reference(s) for s in excluded]), *_option("--exclude-ids", ids_file),
                *_option("--dedup", dedup))
        return Subset(self, decode(SubsetInfo, info))

    def combine(self, expression: str, *, name: str) -> Subset:
        """Combines subsets of one corpus into a new version of ``name`` (``quadcat combine``):
        ``"a + b"`` (union: a's rank order, then b's new rows), ``"a & b"`` (intersection, a's order),
        ``"a - b"`` (difference), evaluated left to right; operators stand apart from the names."""
        return Subset(self, decode(SubsetInfo, self._json("combine", "--as", name, *expression.split())))

    def mix(self, parts: Mapping[Union[str, Subset], Union[float, str]], *, budget: Union[int, str], name: str) -> Subset:
        """Mixes subsets by quota into a new version of ``name`` (``quadcat mix``): ``parts`` maps each
        subset to its share, a fraction (``0.6``) or a percentage (``"60%"``), in order; shares add up
        to 1. Each part gives its top ranks not taken already; shortfalls are filled from the parts in
        order."""
        words = [f"{_reference(subset)}={_share(share)}" for subset, share in parts.items()]
        return Subset(self, decode(SubsetInfo, self._json("mix", "--as", name, "--budget", budget, *words)))

    def metric(self, subset: Union[str, Subset], values: Optional[Mapping[str, float]] = None, *,
               note: Optional[str] = None, **more: float) -> Subset:
        """Records downstream measurements against a subset version (``quadcat metric``), e.g.
        ``cat.metric("py-gtp@2", target_nll=3.866, note="3 seeds")``; returns the version with its
        metrics (``Subset.metrics``). ``log``, ``show`` and ``compare`` show the latest per key."""
        pairs = {**(values or {}), **more}
        words = [f"{key}={float(value)!r}" for key, value in pairs.items()]
        return Subset(self, decode(SubsetInfo, self._json("metric", _reference(subset), *words, *_option("--note", note))))

    def subset(self, reference: str) -> Subset:
        """A subset version by ``NAME`` (the latest), ``NAME@N`` or a tag."""
        shown = self._json("show", reference, "--limit", 0)
        return Subset(self, decode(SubsetInfo, shown["subset"]))

    def subsets(self) -> List[Subset]:
        """The latest version of every subset, by name."""
        return [Subset(self, decode(SubsetInfo, info)) for info in self._json("log")]

    def log(self, name: str) -> List[Subset]:
        """Every version of a subset name, oldest first (``NAME@N`` or a tag stands for its name)."""
        return [Subset(self, decode(SubsetInfo, info)) for info in self._json("log", name)]

    def tag(self, reference: str, tag: str) -> Subset:
        """Points ``tag`` at a subset version (moving it if it exists); returns that version."""
        return Subset(self, decode(SubsetInfo, self._json("tag", reference, tag)))

    def targets(self) -> List[TargetInfo]:
        """Every target and its columns."""
        return decode(List[TargetInfo], self._json(("target", "list")))

    # Looking at results.

    def compare(self, *subsets: Union[str, Subset], label: Optional[str] = None, target: Optional[str] = None,
                alpha: Optional[float] = None, near_duplicate: Optional[float] = None, sort: Optional[str] = None,
                descending: bool = False) -> CompareReport:
        """Compares subsets side by side (``quadcat compare``): each selector's criterion, duplicates,
        the distribution of record field ``label``, pairwise overlaps, recorded metrics; ``sort``
        orders the entries by one metric (lowest first, or highest with ``descending``)."""
        names = [s.reference if isinstance(s, Subset) else s for s in subsets]
        return decode(CompareReport, self._json(
            "compare", *names, *_option("--label", label), *_option("--target", target),
            *_option("--alpha", alpha), *_option("--near-duplicate", near_duplicate), *_option("--sort", sort),
            "--descending" if descending else None))

    def report(self, *subsets: Union[str, Subset], out: PathLike = "report.html", label: Optional[str] = None,
               target: Optional[str] = None, sort: Optional[str] = None, descending: bool = False) -> Mapping[str, Any]:
        """Writes ``quadcat report``'s self-contained HTML page comparing ``subsets`` to ``out`` (charts of
        overlaps, label shares, score distributions and objective traces, recorded metrics, with each
        subset's lineage) and returns what was written (path, bytes, charts, timings) as the CLI reports
        it. ``sort``: order the page by one recorded metric (lowest first, or highest with ``descending``)."""
        names = [s.reference if isinstance(s, Subset) else s for s in subsets]
        return self._json("report", *names, "--out", os.fspath(out), *_option("--label", label),
                          *_option("--target", target), *_option("--sort", sort), "--descending" if descending else None)

    def diff(self, a: Union[str, Subset], b: Union[str, Subset]) -> DiffReport:
        """Rows only in ``a`` and only in ``b``, with their ranks and scores."""
        names = [s.reference if isinstance(s, Subset) else s for s in (a, b)]
        return decode(DiffReport, self._json("diff", *names))

    def records(self, corpus: str, *, start: int = 0, count: Optional[int] = None) -> Iterator[Tuple[int, Any]]:
        """Streams ``(row, record)`` for rows ``start .. start + count - 1`` of ``corpus`` (default: to
        the end) in row order (``quadcat records``): the stored records parsed from JSON, so row numbers
        line up with every column of the corpus by construction. Bounded memory."""
        args = self._command("records", "--corpus", corpus, "--start", start, *_option("--count", count))
        args.remove("--json")
        for offset, line in enumerate(_cli.stream_lines(args)):
            yield start + offset, json.loads(line)

    # Looking after it.

    def info(self) -> CatalogInfo:
        """Corpora, columns, targets, subsets and storage per codec (``quadcat info``)."""
        return decode(CatalogInfo, self._json("info"))

    def verify(self) -> VerifyReport:
        """Checks every chunk checksum and the index (``quadcat verify``). Damage is reported in the
        result (``report.healthy`` is False), not raised."""
        return decode(VerifyReport, _cli.run_json(self._command("verify"), accept=(0, 1)))

    def gc(self, *, dry_run: bool = False) -> GCReport:
        """Removes files nothing references, left by interrupted writes (``quadcat gc``)."""
        return decode(GCReport, self._json("gc", "--dry-run" if dry_run else None))

    # Running the tool.

    def _command(self, command: Union[str, Tuple[str, ...]], *args: Any) -> List[str]:
        """``COMMAND CATALOG ARGS... --json``; ``command`` may be two words (``("target", "add")``)."""
        words = (command,) if isinstance(command, str) else command
        return _cli.arguments(*words, self.path, *args, "--json")

    def _json(self, command: Union[str, Tuple[str, ...]], *args: Any) -> Any:
        return _cli.run_json(self._command(command, *args))


def _option(flag: str, value: Any) -> List[Any]:
    return [] if value is None else [flag, value]


def _json_value(value: Any) -> Any:
    """JSON for the Parquet values json cannot write: dates and times as ISO text, bytes as UTF-8 or hex."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value).hex()
    return str(value)


def _repeated(flag: str, values: Sequence[Any]) -> List[Any]:
    return [arg for value in values for arg in (flag, value)]


def _reference(subset: Union[None, str, Subset]) -> Optional[str]:
    return subset.reference if isinstance(subset, Subset) else subset


def _share(share: Union[float, str]) -> str:
    if isinstance(share, str):
        return share
    if not 0 < share <= 1:
        raise ValueError(f"a mix share is a fraction in (0, 1] (or a string such as '60%'), not {share!r}")
    return f"{round(share * 100, 9)!r}%"


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _projection(projection: Any) -> Optional[str]:
    if projection is None or isinstance(projection, str):
        return projection
    identity = getattr(projection, "identity", None)
    if not isinstance(identity, str):
        raise TypeError(f"projection must be an identity string or have an .identity, not {type(projection).__name__}")
    return identity


@contextmanager
def _as_file(value: Any, suffix: str, save: Any) -> Iterator[Optional[str]]:
    """A path for ``value``: itself when it is one, else a temporary file ``save`` writes it to."""
    if value is None or isinstance(value, (str, os.PathLike)):
        yield None if value is None else os.fspath(value)
        return
    with tempfile.TemporaryDirectory(prefix="quadcat-") as directory:
        path = os.path.join(directory, "input" + suffix)
        save(path, value)
        yield path


def _save_npy(path: str, array: Any) -> None:
    array = np.asarray(array)
    if array.dtype not in (np.float16, np.float32):
        raise TypeError(f"an attached array must be float16 or float32, not {array.dtype} (convert it with .astype)")
    np.save(path, np.ascontiguousarray(array))


def _save_lines(path: str, lines: Sequence[str]) -> None:
    with open(path, "w", encoding="utf-8") as file:
        for line in lines:
            file.write(f"{line}\n")
