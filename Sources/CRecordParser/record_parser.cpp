// The simdjson side of CRecordParser.h: a DOM parse of one line, then a walk over the top-level members.
#include "CRecordParser.h"

#include <simdjson.h>

#include <cinttypes>
#include <cstdio>
#include <new>
#include <string_view>

struct qc_record_parser {
    simdjson::dom::parser dom;
    /// The decimal text of an integer id.
    char integer_text[24];

};

extern "C" size_t qc_record_parser_padding(void) { return simdjson::SIMDJSON_PADDING; }

extern "C" qc_record_parser *qc_record_parser_new(size_t max_depth) {
    auto *parser = new (std::nothrow) qc_record_parser();
    if (parser == nullptr) return nullptr;
    // The capacity grows with the longest line seen; the depth limit stays.
    if (parser->dom.allocate(1 << 16, max_depth) != simdjson::SUCCESS) {
        delete parser;
        return nullptr;
    }
    return parser;
}

extern "C" void qc_record_parser_free(qc_record_parser *parser) { delete parser; }

extern "C" int qc_record_parser_parse(qc_record_parser *parser, const uint8_t *line, size_t length,
                                      const uint8_t *id_key, size_t id_key_length,
                                      const uint8_t *text_key, size_t text_key_length, qc_record_fields *out) {
    simdjson::dom::element root;
    // realloc_if_needed = false: the caller guarantees the padding, so the line is parsed in place.
    if (parser->dom.parse(line, length, false).get(root) != simdjson::SUCCESS) return 0;
    simdjson::dom::object object;
    if (root.get_object().get(object) != simdjson::SUCCESS) return 0;
    const std::string_view id_name(reinterpret_cast<const char *>(id_key), id_key_length);
    const std::string_view text_name(reinterpret_cast<const char *>(text_key), text_key_length);
    bool have_id = false, have_text = false;
    for (simdjson::dom::key_value_pair member : object) {
        if (member.key == id_name) {
            if (have_id) return 0;
            have_id = true;
            const simdjson::dom::element value = member.value;
            switch (value.type()) {
            case simdjson::dom::element_type::STRING: {
                std::string_view id;
                if (value.get_string().get(id) != simdjson::SUCCESS) return 0;
                out->id = reinterpret_cast<const uint8_t *>(id.data());
                out->id_length = id.size();
                out->id_is_string = 1;
                break;
            }
            case simdjson::dom::element_type::INT64: {
                const int64_t n = value.get_int64().value_unsafe();
                if (n == 0) return 0;  // "0" or "-0": the literal is not recoverable from the value
                out->id_length = (size_t)std::snprintf(parser->integer_text, sizeof parser->integer_text, "%" PRId64, n);
                out->id = reinterpret_cast<const uint8_t *>(parser->integer_text);
                out->id_is_string = 0;
                break;
            }
            case simdjson::dom::element_type::UINT64: {
                const uint64_t n = value.get_uint64().value_unsafe();
                out->id_length = (size_t)std::snprintf(parser->integer_text, sizeof parser->integer_text, "%" PRIu64, n);
                out->id = reinterpret_cast<const uint8_t *>(parser->integer_text);
                out->id_is_string = 0;
                break;
            }
            default:
                return 0;
            }
        } else if (member.key == text_name) {
            if (have_text) return 0;
            have_text = true;
            std::string_view text;
            if (member.value.get_string().get(text) != simdjson::SUCCESS) return 0;
            out->text = reinterpret_cast<const uint8_t *>(text.data());
            out->text_length = text.size();
        }
    }
    return have_id && have_text;
}

extern "C" const char *qc_record_parser_implementation(void) {
    return simdjson::get_active_implementation()->name().c_str();
}
