"""A stored subset version and the ways to get its data out: NumPy arrays, ids, the original records,
HF datasets, pandas, files."""
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from . import _cli
from ._binary import binary
from ._decode import decode
from .reports import ExportReport, Lineage, SubsetInfo

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog

PathLike = Union[str, "os.PathLike[str]"]


class Subset:
    """One immutable subset version (``name@N``) of a catalog.

    Everything here comes from the ``quadcat`` tool: ``rows``, ``scores`` and ``weights`` from
    ``export --format npy``, ``ids`` from ``export --format ids``, ``records()`` from ``export
    --format jsonl``, streamed. Arrays are read once and kept (a version never changes).

    >>> s = cat.subset("demo-gtp@1")
    >>> s.rows[:5], s.ids[:5], s.weights[:5]
    >>> ds = s.to_hf_dataset()
    """

    def __init__(self, catalog: "Catalog", info: SubsetInfo):
        self.catalog = catalog
        #: What the tool reports about this version (``quadcat show --json``).
        self.info = info
        self._arrays: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
        self._ids: Optional[List[str]] = None

    # What it is.

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def reference(self) -> str:
        """``name@version``: the address of exactly this version."""
        return self.info.reference

    @property
    def selector(self) -> str:
        return self.info.selector

    @property
    def parameters(self) -> Dict[str, Any]:
        """The selector's canonical parameters, defaults filled in."""
        return json.loads(self.info.parameters or "{}")

    @property
    def recipe_hash(self) -> str:
        """Hash of everything that made the subset (selector, parameters, seed, budget, inputs)."""
        return self.info.recipe_hash

    @property
    def content_hash(self) -> str:
        """Hash of the members: rank order, rows, scores and weights."""
        return self.info.content_hash

    @property
    def lineage(self) -> Lineage:
        """How this version was made: selector, parameters, seed, budget, input columns by content hash,
        the query it ran over and the subsets it was made from."""
        return Lineage.of(self.info)

    @property
    def metrics(self) -> Dict[str, float]:
        """Downstream measurements recorded with ``Catalog.metric`` (the latest value per key)."""
        return {m.key: m.value for m in self.info.metrics}

    def __len__(self) -> int:
        return self.info.row_count

    def __repr__(self) -> str:
        return f"<Subset {self.reference}: {len(self)} rows of {self.info.corpus!r} by {self.selector}>"

    # Its members as NumPy arrays.

    @property
    def rows(self) -> np.ndarray:
        """Row numbers in the corpus, int64, in rank order (best first)."""
        return self._load_arrays()[0]

    @property
    def scores(self) -> np.ndarray:
        """Each member's score (float32, rank order): the selector's own (LESS score, marginal gain, ...)."""
        return self._load_arrays()[1]

    @property
    def weights(self) -> np.ndarray:
        """Each member's weight (float32, rank order): GTP's non-negative coefficients, 1 for other selectors."""
        return self._load_arrays()[2]

    @property
    def ids(self) -> List[str]:
        """External document ids, in rank order."""
        if self._ids is None:
            self._ids = [line.decode("utf-8") for line in _cli.stream_lines(self._export_args("ids", "-"))]
        return self._ids

    def _load_arrays(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._arrays is None:
            with tempfile.TemporaryDirectory(prefix="quadcat-") as directory:
                out = Path(directory) / "members.npy"
                _cli.run_json(self._export_args("npy", out, "--score-field", "score", "--weight-field", "weight", "--json"))
                rows = np.load(out)
                scores = np.load(out.with_suffix(".score.npy"))
                weights = np.load(out.with_suffix(".weight.npy"))
            self._arrays = (rows, scores, weights)
        return self._arrays

    # Its records.

    def records(self) -> Iterator[Dict[str, Any]]:
        """The original records (as ingested, parsed as JSON), in rank order, streamed from the tool."""
        for line in _cli.stream_lines(self._export_args("jsonl", "-")):
            yield json.loads(line)

    def to_hf_dataset(self, **kwargs: Any) -> Any:
        """The original records as a Hugging Face ``datasets.Dataset``, in rank order.

        Built with ``Dataset.from_generator``, so the records stream into an Arrow file without being
        held in memory; the cache key includes the recipe and content hashes, so a subset version is
        converted once. Keyword arguments go to ``from_generator`` (``cache_dir``, ``features``,
        ``keep_in_memory``...). Arrow needs one schema: records that lack a field get ``None`` there.
        Needs ``pip install datasets``.
        """
        try:
            import datasets
        except ImportError:
            raise ImportError("Subset.to_hf_dataset needs Hugging Face datasets: pip install datasets") from None
        gen_kwargs = {
            "binary": binary(), "catalog": os.fspath(self.catalog.path), "reference": self.reference,
            "recipe_hash": self.recipe_hash, "content_hash": self.content_hash,
        }
        return datasets.Dataset.from_generator(_generate_records, gen_kwargs=gen_kwargs, **kwargs)

    def to_pandas(self) -> Any:
        """The original records as a ``pandas.DataFrame``, in rank order (needs pandas)."""
        try:
            import pandas
        except ImportError:
            raise ImportError("Subset.to_pandas needs pandas: pip install pandas") from None
        return pandas.DataFrame.from_records(list(self.records()))

    def export(self, path: PathLike, format: str = "jsonl", *, score_field: Optional[str] = None,
               weight_field: Optional[str] = None) -> ExportReport:
        """Writes the subset for a training job (``quadcat export``).

        ``format``: ``jsonl`` (the original records, byte for byte, rank order), ``ids``, ``npy``
        (int64 rows; ``PATH.FIELD.npy`` for score/weight fields) or ``mds`` (a MosaicML streaming
        directory). ``score_field``/``weight_field`` add each member's score or weight under that name.
        """
        args = self._export_args(format, path, "--score-field" if score_field else None, score_field,
                                 "--weight-field" if weight_field else None, weight_field, "--json")
        return decode(ExportReport, _cli.run_json(args))

    def _export_args(self, format: str, out: Any, *extra: Any) -> List[str]:
        return _cli.arguments("export", self.catalog.path, self.reference, "--format", format, "--out", out, *extra)


def _generate_records(binary: str, catalog: str, reference: str, recipe_hash: str, content_hash: str) -> Iterator[Dict[str, Any]]:
    """Records of a subset for ``Dataset.from_generator``: a module-level function of plain strings, so
    ``datasets`` can fingerprint it. The binary is passed so that the worker runs the same one."""
    del recipe_hash, content_hash  # part of the fingerprint only
    args = _cli.arguments("export", catalog, reference, "--format", "jsonl", "--out", "-")
    for line in _cli.stream_lines(args, executable=binary):
        yield json.loads(line)
