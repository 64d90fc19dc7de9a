// Reading JSON text into rtv::Json, with the reader's rules (rule ids of verifier.format.rules): RTN-E002
// empty, RTN-E003 not UTF-8, RTN-E004 syntax, RTN-E005 non-finite or overflowing number, RTN-E006 duplicate
// key, RTN-E302 nesting. Python's json module and RTNeural's parser (nlohmann) disagree on several of these
// (duplicate keys: the last wins silently; NaN literals; lone surrogates; huge integers), so the verifier
// reads with its own parser and refuses each such file with the place where the problem is.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include "json_value.h"

namespace rtv {

// Legitimate keras-json nests 9 levels (conv2d kernels); containers deeper than this are refused.
constexpr std::size_t kMaxReadDepth = 64;

struct ReadError : std::runtime_error {
    ReadError(std::string rule_, std::string pointer_, const std::string& message, std::string expected_ = {},
              std::string found_ = {})
        : std::runtime_error(message), rule(std::move(rule_)), pointer(std::move(pointer_)),
          expected(std::move(expected_)), found(std::move(found_)) {}
    std::string rule;      // "RTN-E00x"
    std::string pointer;   // RFC 6901; "" for the whole document (and for syntax errors: the text is not a tree)
    std::string expected;  // empty when not a mismatch
    std::string found;
};

// The document `text` holds (UTF-8, one leading byte order mark skipped as nlohmann does). Every value is
// checked; the first problem in the order syntax, duplicate key, non-finite number is thrown (a syntax error
// anywhere wins, as in Python's reader: the rest of the file is unreadable then). Nothing is allocated from
// a size the text declares: containers grow with the values actually read. Never recurses deeper than
// `max_depth`.
Json read_json(std::string_view text, std::size_t max_depth = kMaxReadDepth);

}  // namespace rtv
