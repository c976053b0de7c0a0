// Generated from schema/*.sql; `SchemaTests` checks that the two agree. Edit the .sql file and
// copy it here verbatim when the schema changes (new changes go into a new numbered file).

/// The catalog's SQL migrations, applied in order and recorded by GRDB's migrator.
enum SchemaMigrations {
    static let all: [(name: String, sql: String)] = [
        ("0001_initial", migration0001),
        ("0002_queries", migration0002),
    ]

    static let migration0001 = #"""
-- quadcat catalog index, version 1.
-- The chunk files under chunks/ hold the data; these tables say what the data is and where it lives.
-- Every write commits here last, after the chunk files it references are durable (docs/FORMAT.md, "The commit protocol").

-- A stored array: rows of one element type, split into chunks (a corpus's records, a feature column,
-- a target's gradients, a row mask, a subset's member list).
CREATE TABLE array (
    id            INTEGER PRIMARY KEY,
    dtype         TEXT    NOT NULL CHECK (dtype IN ('f32', 'f16', 'bf16', 'i8', 'i4', 'records', 'members', 'bitmap')),
    dim           INTEGER NOT NULL CHECK (dim >= 1),
    row_count     INTEGER NOT NULL CHECK (row_count >= 0),
    content_hash  TEXT    NOT NULL           -- sha256 over dtype, shape and the chunks' raw checksums
);

CREATE TABLE chunk (
    array_id      INTEGER NOT NULL REFERENCES array(id),
    seq           INTEGER NOT NULL,
    first_row     INTEGER NOT NULL,
    row_count     INTEGER NOT NULL CHECK (row_count >= 1),
    file          TEXT    NOT NULL,          -- segment file name under chunks/
    offset        INTEGER NOT NULL,          -- byte offset of the chunk header in the file
    length        INTEGER NOT NULL,          -- header + stored payload + padding to 64
    codec         TEXT    NOT NULL CHECK (codec IN ('raw', 'lz4', 'shuffle-lz4')),
    raw_length    INTEGER NOT NULL,
    checksum      TEXT    NOT NULL,          -- xxh64 of the raw (decoded) payload, 16 hex digits
    PRIMARY KEY (array_id, seq)
) WITHOUT ROWID;
CREATE INDEX chunk_by_file ON chunk(file);

CREATE TABLE corpus (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    id_field          TEXT    NOT NULL,
    text_field        TEXT    NOT NULL,
    row_count         INTEGER NOT NULL,
    records_array_id  INTEGER NOT NULL REFERENCES array(id),
    created_at        TEXT    NOT NULL
);

-- One row per document; the record itself lives in the corpus's records array.
CREATE TABLE document (
    corpus_id     INTEGER NOT NULL REFERENCES corpus(id),
    row           INTEGER NOT NULL,
    external_id   TEXT    NOT NULL,
    content_hash  BLOB    NOT NULL,          -- first 16 bytes of sha256(text)
    byte_length   INTEGER NOT NULL,          -- length of the verbatim record
    source        TEXT    NOT NULL,          -- "file:line" the record came from
    PRIMARY KEY (corpus_id, row)
) WITHOUT ROWID;
CREATE UNIQUE INDEX document_by_external_id ON document(corpus_id, external_id);
-- No index on content_hash: duplicate texts are found with one GROUP BY after an ingest, and an index
-- on random 16-byte keys would make every insert a random B-tree write.

-- The input files each ingest read, in order.
CREATE TABLE ingest_source (
    corpus_id     INTEGER NOT NULL REFERENCES corpus(id),
    seq           INTEGER NOT NULL,
    path          TEXT    NOT NULL,
    file_hash     TEXT    NOT NULL,
    first_row     INTEGER NOT NULL,
    row_count     INTEGER NOT NULL,
    ingested_at   TEXT    NOT NULL,
    PRIMARY KEY (corpus_id, seq)
) WITHOUT ROWID;

-- A feature column of a corpus, one row per (name, checkpoint): gradients per checkpoint make a trajectory.
CREATE TABLE feature_column (
    id                INTEGER PRIMARY KEY,
    corpus_id         INTEGER NOT NULL REFERENCES corpus(id),
    name              TEXT    NOT NULL,
    kind              TEXT    NOT NULL CHECK (kind IN ('embedding', 'gradient', 'score')),
    checkpoint        INTEGER NOT NULL DEFAULT 0,
    learning_rate     REAL,
    projection_kind   TEXT,
    projection_seed   INTEGER,
    projection_dim    INTEGER,
    source_dtype      TEXT    NOT NULL,
    dim               INTEGER NOT NULL,
    row_count         INTEGER NOT NULL,
    usable_rows       INTEGER NOT NULL,
    unit_normalized   INTEGER NOT NULL DEFAULT 0,
    array_id          INTEGER NOT NULL REFERENCES array(id),
    mask_array_id     INTEGER REFERENCES array(id),   -- usable-row bitmap; NULL when every row is usable
    source_path       TEXT    NOT NULL,
    source_hash       TEXT    NOT NULL,
    created_at        TEXT    NOT NULL,
    UNIQUE (corpus_id, name, checkpoint)
);

-- A target task: validation rows with gradients per checkpoint (and optionally other columns).
CREATE TABLE target (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    row_count     INTEGER NOT NULL,
    created_at    TEXT    NOT NULL
);

CREATE TABLE target_column (
    id                INTEGER PRIMARY KEY,
    target_id         INTEGER NOT NULL REFERENCES target(id),
    name              TEXT    NOT NULL,
    kind              TEXT    NOT NULL CHECK (kind IN ('embedding', 'gradient')),
    checkpoint        INTEGER NOT NULL DEFAULT 0,
    projection_kind   TEXT,
    projection_seed   INTEGER,
    projection_dim    INTEGER,
    source_dtype      TEXT    NOT NULL,
    dim               INTEGER NOT NULL,
    array_id          INTEGER NOT NULL REFERENCES array(id),
    source_path       TEXT    NOT NULL,
    source_hash       TEXT    NOT NULL,
    created_at        TEXT    NOT NULL,
    UNIQUE (target_id, name, checkpoint)
);

-- Subtask label of each validation row (LESS: mean within a subtask, max over subtasks).
CREATE TABLE target_row (
    target_id     INTEGER NOT NULL REFERENCES target(id),
    row           INTEGER NOT NULL,
    subtask       TEXT    NOT NULL,
    PRIMARY KEY (target_id, row)
) WITHOUT ROWID;

-- An immutable, versioned subset of a corpus.
CREATE TABLE subset (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL,
    version           INTEGER NOT NULL CHECK (version >= 1),
    parent_version    INTEGER,
    corpus_id         INTEGER NOT NULL REFERENCES corpus(id),
    target_id         INTEGER REFERENCES target(id),
    selector          TEXT    NOT NULL,
    selector_version  TEXT    NOT NULL,
    params_json       TEXT    NOT NULL,      -- canonical JSON (sorted keys)
    seed              INTEGER NOT NULL,
    budget_spec       TEXT    NOT NULL,      -- as given: "5%" or "600"
    budget            INTEGER NOT NULL,
    row_count         INTEGER NOT NULL,
    members_array_id  INTEGER NOT NULL REFERENCES array(id),
    recipe_hash       TEXT    NOT NULL,
    content_hash      TEXT    NOT NULL,
    diagnostics_json  TEXT    NOT NULL,
    created_at        TEXT    NOT NULL,
    elapsed_seconds   REAL    NOT NULL,
    tool_version      TEXT    NOT NULL,
    UNIQUE (name, version)
);

-- The exact columns a subset was computed from.
CREATE TABLE subset_input (
    subset_id     INTEGER NOT NULL REFERENCES subset(id),
    role          TEXT    NOT NULL,          -- e.g. "pool gradient", "target gradient", "embedding"
    column_name   TEXT    NOT NULL,
    checkpoint    INTEGER NOT NULL,
    content_hash  TEXT    NOT NULL,
    PRIMARY KEY (subset_id, role, column_name, checkpoint)
) WITHOUT ROWID;

CREATE TABLE tag (
    name          TEXT    PRIMARY KEY,
    subset_id     INTEGER NOT NULL REFERENCES subset(id),
    created_at    TEXT    NOT NULL
);
"""#

    static let migration0002 = #"""
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
"""#
}
