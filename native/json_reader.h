// Reading JSON text into rtv::Json, with the reader's rules (rule ids of rules.h, defined in
// verifier.format.rules): RTN-E002 empty, RTN-E003 not UTF-8 (a malformed byte, or a lone surrogate escape),
// RTN-E004 syntax, RTN-E005 non-finite or overflowing number, RTN-E006 duplicate key with different values,
// RTN-W007 duplicate key with identical values (a warning), RTN-E102 not an object, RTN-E302 nesting. Python's
// json module and RTNeural's parser (nlohmann) disagree on several of these (duplicate keys: the last wins
// silently; NaN literals; lone surrogates; huge integers), so the verifier reads with its own parser and
// refuses each such file with the place where the problem is.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "json_value.h"

namespace rtv {

// A problem of the text: thrown as ReadError for an error, collected for a warning.
struct ReadNote {
    std::string rule;      // an id of rules.h
    std::string pointer;   // RFC 6901; "" for the whole document (and for syntax errors: the text is not a tree)
    std::string message;
    std::string expected;  // empty when not a mismatch
    std::string found;
};

struct ReadError : std::runtime_error {
    explicit ReadError(ReadNote note_) : std::runtime_error(note_.message), note(std::move(note_)) {}
    ReadNote note;
};

struct ReadResult {
    Json root;
    std::vector<ReadNote> warnings;  // RTN-W007, in the order their objects close
};

// The document `text` holds (UTF-8, one leading byte order mark skipped as nlohmann does). Every value is
// checked; the first problem in the order syntax (or nesting), not an object, duplicate key with different
// values, then the first lone surrogate or non-finite number in document order is thrown (a syntax error
// anywhere wins, as in Python's reader: the rest of the file is unreadable then). Nothing is allocated from
// a size the text declares: containers grow with the values actually read. Never recurses deeper than
// `max_depth` (verifier.format.findings.Limits.max_depth; the reader has no default of its own).
ReadResult read_json(std::string_view text, std::size_t max_depth);

}  // namespace rtv
