// CRecordParser: a C API over simdjson for the one question ingest asks of every JSONL record: is this
// line one valid JSON object, and what are its id and text fields?
//
// It is a fast path only. It accepts a record when simdjson (a full-validating DOM parse: grammar,
// numbers, escapes, UTF-8, depth) accepts the line and the record's id is a string or an integer and its
// text a string, each present once. Everything else returns 0 and the caller asks its own, slower
// scanner, which is the authority on what is wrong and where (line, column, what was found). The fast
// path is never more lenient than that scanner (tested on mutated records in IngestTests).
#ifndef QUADCAT_CRECORDPARSER_H
#define QUADCAT_CRECORDPARSER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A reusable parser (a simdjson DOM parser and its buffers). One per thread.
typedef struct qc_record_parser qc_record_parser;

/// A record's two fields. The pointers are valid until the next call with the same parser.
typedef struct {
    /// The id: a string's decoded UTF-8, or an integer's decimal text.
    const uint8_t *id;
    size_t id_length;
    /// 1 when the id is a JSON string, 0 for an integer.
    int id_is_string;
    /// The text field's decoded UTF-8 (it may contain NUL).
    const uint8_t *text;
    size_t text_length;
} qc_record_fields;

/// Bytes that must be readable (any content) after the end of every line given to the parser.
size_t qc_record_parser_padding(void);

/// A parser refusing nesting deeper than `max_depth` levels (the record object is level 1), or NULL
/// when memory is short.
qc_record_parser *qc_record_parser_new(size_t max_depth);
void qc_record_parser_free(qc_record_parser *parser);

/// Parses one line (without its newline). Returns 1 and fills `out` for a valid record whose id field
/// (`id_key`) is a string or a non-zero integer and whose text field (`text_key`) is a string, each
/// present once at top level; returns 0 for anything else (including an integer id 0, whose literal
/// may have been "-0"). `line` must be followed by `qc_record_parser_padding()` readable bytes.
int qc_record_parser_parse(qc_record_parser *parser, const uint8_t *line, size_t length,
                           const uint8_t *id_key, size_t id_key_length,
                           const uint8_t *text_key, size_t text_key_length, qc_record_fields *out);

/// The name of the simdjson kernel chosen for this CPU at run time ("icelake", "haswell", "westmere",
/// "fallback", ...), for benchmark reports.
const char *qc_record_parser_implementation(void);

#ifdef __cplusplus
}
#endif

#endif
