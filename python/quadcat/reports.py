"""What quadcat commands report, as plain dataclasses (decoded from each command's ``--json``).

Field names are the JSON keys in snake_case; the command-line tool's ``--help`` and README.md describe
what each means.
"""
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass(frozen=True)
class Storage:
    """Bytes of a set of chunks: raw (decoded) and as stored; ``ratio`` is stored / raw."""
    raw_bytes: int = 0
    stored_bytes: int = 0
    chunks: int = 0
    ratio: float = 0.0


@dataclass(frozen=True)
class ColumnInfo:
    """A feature column of a corpus (one gradient checkpoint, an embedding or a score column)."""
    name: str
    kind: str
    checkpoint: int = 0
    learning_rate: Optional[float] = None
    dim: int = 0
    source_dtype: str = ""
    stored_dtype: str = ""
    rows: int = 0
    usable_rows: int = 0
    projection: Optional[str] = None
    unit_normalized: bool = False
    storage: Optional[Storage] = None
    content_hash: str = ""


@dataclass(frozen=True)
class IndexedField:
    """A record field kept as typed values for ``select(where=...)``: how many records hold each kind of
    value (booleans are kept as 1 and 0; objects and arrays, ``other_values``, read as NULL) and how
    many read as NULL. ``type``: ``text``, ``integer``, ``real``, ``boolean``, ``number``, ``mixed``."""
    name: str
    type: str = ""
    text_values: int = 0
    integer_values: int = 0
    real_values: int = 0
    boolean_values: int = 0
    other_values: int = 0
    null_values: int = 0


@dataclass(frozen=True)
class CorpusInfo:
    """A corpus: its documents, feature columns and indexed fields."""
    name: str
    rows: int = 0
    id_field: str = "id"
    text_field: str = "text"
    records: Optional[Storage] = None
    columns: List[ColumnInfo] = field(default_factory=list)
    fields: List[IndexedField] = field(default_factory=list)
    subsets: int = 0


@dataclass(frozen=True)
class TargetColumn:
    """One column of a target (one checkpoint's validation gradients, usually)."""
    name: str
    kind: str
    checkpoint: int = 0
    dim: int = 0
    dtype: str = ""
    projection: Optional[str] = None
    content_hash: str = ""


@dataclass(frozen=True)
class TargetInfo:
    """A target (validation set) and its columns."""
    name: str
    rows: int = 0
    subtasks: int = 1
    columns: List[TargetColumn] = field(default_factory=list)
    created_at: str = ""


@dataclass(frozen=True)
class CatalogInfo:
    """``quadcat info``: corpora, columns, targets, subsets and storage per codec."""
    path: str
    schema: List[str] = field(default_factory=list)
    corpora: List[CorpusInfo] = field(default_factory=list)
    targets: List[TargetInfo] = field(default_factory=list)
    subsets: int = 0
    codecs: Dict[str, Storage] = field(default_factory=dict)
    bytes_on_disk: int = 0

    def corpus(self, name: str) -> CorpusInfo:
        """The corpus called ``name`` (KeyError naming the corpora there when absent)."""
        for corpus in self.corpora:
            if corpus.name == name:
                return corpus
        raise KeyError(f"no corpus named {name!r}; corpora: {', '.join(c.name for c in self.corpora) or 'none'}")


@dataclass(frozen=True)
class IngestReport:
    """``quadcat ingest``: records added, bytes read and stored, exact-duplicate texts found (kept)."""
    corpus: str
    files: List[str] = field(default_factory=list)
    rows_added: int = 0
    total_rows: int = 0
    bytes_read: int = 0
    bytes_stored: int = 0
    seconds: float = 0.0
    duplicate_text_groups: int = 0
    duplicate_text_rows: int = 0
    duplicate_examples: List[List[str]] = field(default_factory=list)
    indexed_fields: List[IndexedField] = field(default_factory=list)


@dataclass(frozen=True)
class IndexReport:
    """``quadcat index``: fields indexed now, fields indexed already, every indexed field afterwards."""
    corpus: str
    added: List[str] = field(default_factory=list)
    already_indexed: List[str] = field(default_factory=list)
    fields: List[IndexedField] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class AttachReport:
    """``quadcat attach``: the column attached, its shape, types and storage."""
    corpus: str
    column: str
    kind: str
    checkpoint: int = 0
    rows: int = 0
    usable_rows: int = 0
    unusable_examples: List[int] = field(default_factory=list)
    dim: int = 0
    source_dtype: str = ""
    stored_dtype: str = ""
    source_bytes: int = 0
    stored_bytes: int = 0
    codecs: Dict[str, int] = field(default_factory=dict)
    unit_normalized: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class TargetReport:
    """``quadcat target add``: the column added to a target."""
    target: str
    column: str
    kind: str
    checkpoint: int = 0
    rows: int = 0
    dim: int = 0
    created_target: bool = False
    subtasks: int = 1


@dataclass(frozen=True)
class SubsetInput:
    """An input column of a subset, by content hash (part of its lineage)."""
    role: str
    column: str
    checkpoint: int = 0
    content_hash: str = ""


@dataclass(frozen=True)
class Diagnostics:
    """What a selector reported about its run: objective trace, counters, notes, timings, series."""
    objective_trace: List[float] = field(default_factory=list)
    counters: Dict[str, float] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    timings: Dict[str, float] = field(default_factory=dict)
    series: Dict[str, List[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class ExcludedIDs:
    """The ``exclude_ids`` file of a selection: distinct ids listed and how many are documents."""
    file: str
    ids: int = 0
    matched: int = 0
    ids_hash: str = ""


@dataclass(frozen=True)
class DedupInfo:
    """The near-duplicate guard of a selection: column, threshold, rows refused, members unchecked."""
    column: str
    checkpoint: int = 0
    cosine: float = 0.0
    refused: int = 0
    unchecked: int = 0


@dataclass(frozen=True)
class SubsetQuery:
    """What a selection ran over: the predicate (canonical form), the subset it ran within, the excluded
    subsets and ids, the near-duplicate guard, the candidate count, and what a % budget was a share of."""
    predicate: Optional[str] = None
    within: Optional[str] = None
    exclude: List[str] = field(default_factory=list)
    exclude_ids: Optional[ExcludedIDs] = None
    dedup: Optional[DedupInfo] = None
    candidates: Optional[int] = None
    budget_basis: str = "corpus"


@dataclass(frozen=True)
class SubsetParent:
    """A subset a version was made from: ``role`` is ``operand`` (combine), ``part`` (mix, with its
    ``share``), ``within`` or ``exclude`` (select); identified by ``name@version`` and content hash."""
    role: str
    subset: str
    content_hash: str = ""
    share: Optional[float] = None


@dataclass(frozen=True)
class SubsetMetric:
    """A downstream measurement of a subset version (the latest for its key)."""
    key: str
    value: float
    note: Optional[str] = None
    recorded_at: str = ""
    earlier_values: int = 0


@dataclass(frozen=True)
class SubsetInfo:
    """A stored subset version as ``quadcat log``/``show`` report it."""
    name: str
    version: int
    corpus: str
    selector: str
    parent_version: Optional[int] = None
    target: Optional[str] = None
    selector_version: str = ""
    parameters: str = "{}"
    seed: int = 0
    budget_spec: str = ""
    budget: int = 0
    row_count: int = 0
    recipe_hash: str = ""
    content_hash: str = ""
    inputs: List[SubsetInput] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    created_at: str = ""
    elapsed_seconds: float = 0.0
    tool_version: str = ""
    tags: List[str] = field(default_factory=list)
    query: Optional[SubsetQuery] = None
    parents: List[SubsetParent] = field(default_factory=list)
    metrics: List[SubsetMetric] = field(default_factory=list)

    @property
    def reference(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class Lineage:
    """How a subset was made: everything needed to make it again, and to tell it apart.

    ``recipe_hash`` covers the selector and its version, the canonical parameters, the seed, the
    budget, the corpus, the content hash of every input column, and the query (predicate, the parents'
    content hashes, excluded ids, the guard); ``content_hash`` the members (rank order, rows, scores,
    weights). ``parents``: the subsets it was made from (combine, mix, within, exclude).
    """
    subset: str
    corpus: str
    target: Optional[str]
    selector: str
    selector_version: str
    parameters: Dict[str, Any]
    seed: int
    budget_spec: str
    budget: int
    inputs: List[SubsetInput]
    parent_version: Optional[int]
    recipe_hash: str
    content_hash: str
    created_at: str
    tool_version: str
    query: Optional[SubsetQuery] = None
    parents: List[SubsetParent] = field(default_factory=list)

    @classmethod
    def of(cls, info: SubsetInfo) -> "Lineage":
        return cls(
            subset=info.reference, corpus=info.corpus, target=info.target, selector=info.selector,
            selector_version=info.selector_version, parameters=json.loads(info.parameters or "{}"), seed=info.seed,
            budget_spec=info.budget_spec, budget=info.budget, inputs=list(info.inputs), parent_version=info.parent_version,
            recipe_hash=info.recipe_hash, content_hash=info.content_hash, created_at=info.created_at,
            tool_version=info.tool_version, query=info.query, parents=list(info.parents))


@dataclass(frozen=True)
class CompareEntry:
    """One subset in ``quadcat compare``: its size and its score under each selector's criterion."""
    subset: str
    selector: str
    rows: int = 0
    parameters: str = "{}"
    seconds: float = 0.0
    mean_less_score: Optional[float] = None
    log_det: Optional[float] = None
    gtp_residual: Optional[float] = None
    mean_influence: Optional[float] = None
    clusters_covered: Optional[int] = None
    cluster_entropy_bits: Optional[float] = None
    exact_duplicate_pairs: int = 0
    near_duplicate_pairs: Optional[int] = None
    labels: Optional[Dict[str, int]] = None
    metrics: Dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Overlap:
    """Rows two subsets share, and their Jaccard index."""
    a: str
    b: str
    shared: int = 0
    jaccard: float = 0.0


@dataclass(frozen=True)
class CompareReport:
    """``quadcat compare``: subsets side by side, label shares, pairwise overlaps."""
    corpus: str
    target: Optional[str] = None
    label_field: Optional[str] = None
    corpus_labels: Optional[Dict[str, int]] = None
    total_clusters: Optional[int] = None
    entries: List[CompareEntry] = field(default_factory=list)
    overlaps: List[Overlap] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    sorted_by: Optional[str] = None

    def entry(self, subset: str) -> CompareEntry:
        """The entry of ``subset`` (``name@N``, or a name whose compared version is meant)."""
        for entry in self.entries:
            if entry.subset == subset or entry.subset.rsplit("@", 1)[0] == subset:
                return entry
        raise KeyError(f"{subset!r} is not in this comparison ({', '.join(e.subset for e in self.entries)})")


@dataclass(frozen=True)
class DiffRow:
    """A row in one subset and not the other, with its rank and score there."""
    row: int
    id: str
    rank: int = 0
    score: float = 0.0


@dataclass(frozen=True)
class DiffReport:
    """``quadcat diff``: rows only in A, only in B, and how many both have."""
    a: str
    b: str
    shared: int = 0
    only_a: List[DiffRow] = field(default_factory=list)
    only_b: List[DiffRow] = field(default_factory=list)


@dataclass(frozen=True)
class VerifyReport:
    """``quadcat verify``: chunks checked, damage found, garbage left by interrupted writes."""
    chunks_checked: int = 0
    bytes_checked: int = 0
    damage: List[str] = field(default_factory=list)
    orphan_files: List[str] = field(default_factory=list)
    staging_files: List[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def healthy(self) -> bool:
        """No damage (garbage files are not damage; ``gc`` removes them)."""
        return not self.damage


@dataclass(frozen=True)
class GCReport:
    """``quadcat gc``: files removed (or that would be, with ``dry_run``)."""
    dry_run: bool = False
    removed_files: List[str] = field(default_factory=list)
    removed_bytes: int = 0


@dataclass(frozen=True)
class ExportReport:
    """``quadcat export``: what was written where."""
    subset: str
    format: str
    rows: int = 0
    bytes: int = 0
    output: str = ""
