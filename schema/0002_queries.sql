-- quadcat catalog index, version 2: queries (indexed record fields, lineage of subsets made from
-- other subsets, the query a selection ran over, downstream metrics).

-- A record field kept as typed values for predicates (`ingest --index-field`, `quadcat index`), with
-- how many records hold each kind of value (a record without the field, or with null, holds none).
CREATE TABLE indexed_field (
    id              INTEGER PRIMARY KEY,
    corpus_id       INTEGER NOT NULL REFERENCES corpus(id),
    name            TEXT    NOT NULL,
    text_values     INTEGER NOT NULL DEFAULT 0,
    integer_values  INTEGER NOT NULL DEFAULT 0,
    real_values     INTEGER NOT NULL DEFAULT 0,
    boolean_values  INTEGER NOT NULL DEFAULT 0,   -- stored as the integers 1 and 0
    other_values    INTEGER NOT NULL DEFAULT 0,   -- objects and arrays: not stored (they read as NULL)
    created_at      TEXT    NOT NULL,
    UNIQUE (corpus_id, name)
);

-- One row per document and indexed field that has a scalar value; absent rows read as NULL. The value
-- column has no declared type, so SQLite keeps each value's own type (text stays text: '007' is not 7).
CREATE TABLE field_value (
    field_id      INTEGER NOT NULL REFERENCES indexed_field(id),
    row           INTEGER NOT NULL,
    value         NOT NULL,
    PRIMARY KEY (field_id, row)
) WITHOUT ROWID;

-- The query a selection ran over (predicate, subsets within and excluded, excluded ids, near-duplicate
-- guard, candidate count), canonical JSON; NULL when it ran over the whole corpus.
ALTER TABLE subset ADD COLUMN query_json TEXT;

-- The subsets a version was made from: the operands of `combine`, the parts of `mix` (with their
-- shares), and the subsets a selection ran within or excluded. Identified by content hash as well as by
-- id, so the lineage says exactly which members were used.
CREATE TABLE subset_parent (
    subset_id     INTEGER NOT NULL REFERENCES subset(id),
    seq           INTEGER NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('operand', 'part', 'within', 'exclude')),
    parent_id     INTEGER NOT NULL REFERENCES subset(id),
    content_hash  TEXT    NOT NULL,
    share         REAL,                      -- a mix part's share of the budget, in (0, 1]
    PRIMARY KEY (subset_id, seq)
) WITHOUT ROWID;

-- Downstream measurements of a subset version (`quadcat metric`), e.g. the target loss of a model
-- trained on it. Every recording is kept; the latest per key is the current value.
CREATE TABLE subset_metric (
    id            INTEGER PRIMARY KEY,
    subset_id     INTEGER NOT NULL REFERENCES subset(id),
    key           TEXT    NOT NULL,
    value         REAL    NOT NULL,
    note          TEXT,
    recorded_at   TEXT    NOT NULL
);
CREATE INDEX subset_metric_by_subset ON subset_metric(subset_id, key);
