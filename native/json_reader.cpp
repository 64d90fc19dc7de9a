// The reader: UTF-8 check, then one pass of recursive descent (bounded by max_depth) that builds rtv::Json.
// Messages and positions follow Python's json module where both read the same text ("Expecting value",
// line and column in characters), so a user sees the same words from `validate` and `load`.
#include "json_reader.h"

#include "quoting.h"
#include "rules.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace rtv {
namespace {

// The first malformed UTF-8 sequence: its byte offset and Python's name for what is wrong with it.
struct Utf8Problem {
    std::size_t offset;
    const char* reason;
};

std::optional<Utf8Problem> check_utf8(std::string_view s) {
    const auto* b = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = b[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len;
        unsigned char lo = 0x80, hi = 0xBF;  // the range of the byte after the lead byte
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;       // overlong
            else if (c == 0xED) hi = 0x9F;  // UTF-16 surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;       // overlong
            else if (c == 0xF4) hi = 0x8F;  // beyond U+10FFFF
        } else
            return Utf8Problem{i, "invalid start byte"};
        for (std::size_t k = 1; k < len; ++k) {
            if (i + k >= n) return Utf8Problem{i, "unexpected end of data"};
            const unsigned char next = b[i + k];
            const unsigned char first = k == 1 ? lo : 0x80, last = k == 1 ? hi : 0xBF;
            if (next < first || next > last) return Utf8Problem{i, "invalid continuation byte"};
        }
        i += len;
    }
    return std::nullopt;
}

std::string hex_byte(unsigned char c) {
    static const char digits[] = "0123456789abcdef";
    return std::string("byte 0x") + digits[c >> 4] + digits[c & 15];
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string shown(std::string_view text) { return quoting::shown(text); }

// The reader keeps an unpaired surrogate escape as its three bytes (ED A0..BF xx), which valid UTF-8 never
// holds: text carrying them cannot cross into Python (pybind11 decodes strictly), so no message or pointer may.
bool has_lone_surrogate(std::string_view s) {
    for (std::size_t i = 0; i + 2 < s.size(); ++i)
        if (static_cast<unsigned char>(s[i]) == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0) return true;
    return false;
}

// Each unpaired surrogate written as Python's repr writes it (\ud800), every other byte as it is.
std::string surrogates_escaped(std::string_view s) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == 0xED && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0xA0) {
            const unsigned code = 0xD000 | ((static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
                                  (static_cast<unsigned char>(s[i + 2]) & 0x3F);
            out += "\\u";
            for (int shift = 12; shift >= 0; shift -= 4) out += digits[(code >> shift) & 15];
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// Python's repr of a str for the common case (quotes chosen the same way; other escapes left as written).
std::string python_repr(const std::string& s) {
    const char quote = s.find('\'') != std::string::npos && s.find('"') == std::string::npos ? '"' : '\'';
    return quoting::quoted(has_lone_surrogate(s) ? surrogates_escaped(s) : s, quote);
}

// Identical JSON values: same kinds all the way down, and integers and other numbers kept apart (1 and 1.0 are
// two values, as Python's reader makes an int and a float of them). Object members compare by key, in any
// order. A NaN (a refused literal) equals nothing. Recursion is bounded by the reader's depth limit.
bool identical(JsonRef a, JsonRef b) {
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case Json::Kind::Null: return true;
        case Json::Kind::Bool: return a.as_bool() == b.as_bool();
        case Json::Kind::Number:
            if (a.is_integer() != b.is_integer()) return false;
            return a.is_integer() ? a.as_integer() == b.as_integer() : a.as_number() == b.as_number();
        case Json::Kind::String: return a.as_string() == b.as_string();
        case Json::Kind::Array: {
            if (a.size() != b.size()) return false;
            for (std::size_t i = 0; i < a.size(); ++i)
                if (!identical(a.at(i), b.at(i))) return false;
            return true;
        }
        case Json::Kind::Object: {
            const auto& x = a.as_object();
            if (x.size() != b.as_object().size()) return false;
            for (const auto& [key, value] : x) {
                const Json* other = b.find(key);
                if (other == nullptr || !identical(value, *other)) return false;
            }
            return true;
        }
    }
    return false;
}

class Reader {
public:
    Reader(std::string_view text, std::size_t offset, std::size_t max_depth)
        : begin_(text.data()), p_(text.data() + offset), end_(text.data() + text.size()), max_depth_(max_depth) {}

    ReadResult document() {
        skip_space();
        Json root = value(1);
        skip_space();
        if (p_ != end_) syntax("Extra data");
        if (!root.is_object())
            throw ReadError({rules::kWrongType, "", "a keras-json model must be a JSON object", "an object",
                             kind_text(root)});
        if (duplicate_) throw ReadError(*duplicate_);
        if (value_problem_) throw ReadError(*value_problem_);
        return ReadResult{std::move(root), std::move(warnings_)};
    }

private:
    struct Segment {
        std::string key;  // when !index_segment
        std::size_t index = 0;
        bool index_segment = true;
    };

    static std::string kind_text(const Json& v) {
        switch (v.kind()) {
            case Json::Kind::Array: return "an array";
            case Json::Kind::String: return "a string";
            case Json::Kind::Bool: return "a boolean";
            case Json::Kind::Null: return "null";
            default: return "a number";
        }
    }

    // The place being read; `up` segments fewer names a parent (the object of a key being read).
    // A key holding an unpaired surrogate has no UTF-8 spelling: the pointer stops at the object holding it.
    std::string pointer(std::size_t up = 0) const {
        std::string out;
        for (std::size_t i = 0; i + up < path_.size(); ++i) {
            const auto& s = path_[i];
            if (!s.index_segment && has_lone_surrogate(s.key)) break;
            out = s.index_segment ? pointer_child(out, s.index) : pointer_child(out, s.key);
        }
        return out;
    }

    // Python's json reports line and column (in characters, from 1) of where reading stopped.
    [[noreturn]] void syntax(const std::string& what, const char* at = nullptr) const {
        const char* pos = at ? at : p_;
        std::size_t line = 1;
        const char* line_start = begin_;
        for (const char* q = begin_; q < pos; ++q)
            if (*q == '\n') {
                ++line;
                line_start = q + 1;
            }
        std::size_t column = 1;
        for (const char* q = line_start; q < pos; ++q)
            if ((static_cast<unsigned char>(*q) & 0xC0) != 0x80) ++column;
        throw ReadError({rules::kSyntax, "",
                         "invalid JSON at line " + std::to_string(line) + " column " + std::to_string(column) + ": " +
                             what});
    }

    void skip_space() {
        while (p_ != end_ && is_space(*p_)) ++p_;
    }

    bool literal(const char* word) {
        const std::size_t n = std::strlen(word);
        if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
        p_ += n;
        return true;
    }

    // A value the text spells correctly but no model may hold (non-finite, lone surrogate): the first one in
    // document order is refused once the whole text is known to be readable.
    void note_value_problem(ReadNote note) {
        if (!value_problem_) value_problem_.emplace(std::move(note));
    }

    void note_non_finite(const std::string& message, const std::string& found) {
        note_value_problem({rules::kNonFinite, pointer(), message, "a finite number", found});
    }

    // nlohmann refuses an unpaired surrogate escape; for a key the place is its object (the key itself has no
    // UTF-8 spelling to put in a pointer).
    void note_lone_surrogate(const char* what, std::size_t up) {
        note_value_problem({rules::kNotUtf8, pointer(up),
                            std::string(what) + " is not valid Unicode: an unpaired surrogate (\\ud800-\\udfff escape)",
                            "UTF-8 text", "a lone surrogate"});
    }

    Json value(std::size_t depth) {
        if (p_ == end_) syntax("Expecting value");
        switch (*p_) {
            case '{': return object(depth);
            case '[': return array(depth);
            case '"': {
                Json text = Json::string(string());
                if (lone_surrogate_) note_lone_surrogate("a string", 0);
                return text;
            }
            case 'n':
                if (literal("null")) return Json();
                break;
            case 't':
                if (literal("true")) return Json::boolean(true);
                break;
            case 'f':
                if (literal("false")) return Json::boolean(false);
                break;
            case 'N':
                if (literal("NaN")) return non_finite("NaN");
                break;
            case 'I':
                if (literal("Infinity")) return non_finite("Infinity");
                break;
            default:
                if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return number();
        }
        syntax("Expecting value");
    }

    // A NaN stands for the literal until the document is refused: it equals no other value, so two copies of
    // a key holding it are a duplicate with different values, as in Python's reader.
    Json non_finite(const char* literal_text) {
        note_non_finite(std::string(literal_text) + " is not valid JSON (RTNeural's parser rejects it)", literal_text);
        return Json::number(std::nan(""));
    }

    void enter(std::size_t depth) {
        if (depth > max_depth_)
            throw ReadError({rules::kTooDeep, pointer(), "the document nests too deeply",
                             "at most " + std::to_string(max_depth_) + " levels (Limits.max_depth)", "deeper"});
    }

    // Rows of more numbers than this stay values of their own: a container costs little beside them, and
    // taking one into a flat array copies it (twice when a later row does not fit and the rows are given
    // back, as when a kernel and its bias sit side by side in `weights`).
    static constexpr std::size_t kMaxFlatRow = 8192;

    // The dims of a row `item` that a flat array can take in: a flat array, or a non-empty list of numbers
    // (integers only where a double holds them exactly), of at most kMaxFlatRow numbers; else nullopt.
    static std::optional<std::vector<std::size_t>> row_dims(const Json& item) {
        if (item.is_numbers()) {
            if (item.as_numbers().count() > kMaxFlatRow) return std::nullopt;
            return item.as_numbers().dims;
        }
        if (!item.is_array() || item.as_array().empty() || item.as_array().size() > kMaxFlatRow) return std::nullopt;
        constexpr std::int64_t kExact = std::int64_t(1) << 53;
        for (const Json& x : item.as_array()) {
            if (!x.is_number()) return std::nullopt;
            if (x.is_integer() && (x.as_integer() > kExact || x.as_integer() < -kExact)) return std::nullopt;
        }
        return std::vector<std::size_t>{item.as_array().size()};
    }

    // Whether the scratch from `base` holds a row of numbers `block` takes (one of the length of its rows).
    bool fits_row(const NumberBlock& block, std::size_t base) const {
        if (block.dims.size() != 2 || scratch_.size() - base != block.dims[1]) return false;
        constexpr std::int64_t kExact = std::int64_t(1) << 53;
        for (auto it = scratch_.begin() + static_cast<std::ptrdiff_t>(base); it != scratch_.end(); ++it) {
            if (!it->is_number()) return false;
            if (it->is_integer() && (it->as_integer() > kExact || it->as_integer() < -kExact)) return false;
        }
        return true;
    }

    static void append_row(NumberBlock& block, const Json& row) {
        if (row.is_numbers()) {
            block.append(row.as_numbers());
            return;
        }
        for (const Json& x : row.as_array()) block.append(x.as_number(), x.is_integer());
    }

    // Row r of `block` as a value of its own (a list of numbers, or a flat array one level less deep).
    static Json row_value(const NumberBlock& block, std::size_t r) {
        const std::size_t n = block.stride(0), first = r * n;
        if (block.dims.size() == 2) {
            Json::Array items;
            items.reserve(n);
            for (std::size_t i = first; i < first + n; ++i)
                items.push_back(block.integer(i) ? Json::integer(static_cast<std::int64_t>(block.value(i)))
                                                 : Json::number(block.value(i)));
            return Json::array(std::move(items));
        }
        auto part = std::make_unique<NumberBlock>();
        part->dims.assign(block.dims.begin() + 1, block.dims.end());
        for (std::size_t i = first; i < first + n; ++i) part->append(block.value(i), block.integer(i));
        part->shrink();
        return Json::numbers(part.release());
    }

    // An array whose elements are rows of one shape (lists of numbers, or flat arrays alike) is read into one
    // flat NumberBlock as it goes, each row dropped once its numbers are in: a file of many small rows costs
    // its numbers, not a container per row. At the first element that does not fit, the rows read so far
    // become values again and the array is read as a general one.
    // `into`: the flat array of the array this one is a row of. A row of numbers that fits it is appended
    // straight from the scratch (`*appended` set, null returned): a row never gets a container of its own,
    // whose allocation and release per row would leave the heap in holes.
    Json array(std::size_t depth, NumberBlock* into = nullptr, bool* appended = nullptr) {
        enter(depth);
        ++p_;  // '['
        const std::size_t base = scratch_.size();
        skip_space();
        if (p_ != end_ && *p_ == ']') {
            ++p_;
            return Json::array(std::size_t(0));
        }
        path_.push_back(Segment{});
        std::unique_ptr<NumberBlock> flat;  // while every row so far fits
        std::size_t rows = 0;
        bool general = false;
        for (std::size_t i = 0;; ++i) {
            path_.back().index = i;
            skip_space();
            bool row_appended = false;
            Json item = flat && !general && p_ != end_ && *p_ == '[' ? array(depth + 1, flat.get(), &row_appended)
                                                                     : value(depth + 1);
            if (row_appended) ++rows;
            else if (!general) {
                const auto dims = row_dims(item);
                if (i == 0 && dims) {
                    flat = std::make_unique<NumberBlock>();
                    flat->dims.push_back(0);
                    flat->dims.insert(flat->dims.end(), dims->begin(), dims->end());
                }
                if (dims && std::equal(dims->begin(), dims->end(), flat->dims.begin() + 1, flat->dims.end())) {
                    append_row(*flat, item);
                    ++rows;
                } else {
                    general = true;
                    if (flat) {
                        flat->dims[0] = rows;
                        for (std::size_t r = 0; r < rows; ++r) scratch_.push_back(row_value(*flat, r));
                        flat.reset();
                    }
                }
            }
            if (general) scratch_.push_back(std::move(item));
            skip_space();
            if (p_ != end_ && *p_ == ',') {
                ++p_;
                continue;
            }
            if (p_ != end_ && *p_ == ']') {
                ++p_;
                break;
            }
            syntax("Expecting ',' delimiter");
        }
        path_.pop_back();
        if (flat) {
            flat->dims[0] = rows;
            flat->shrink();
            return Json::numbers(flat.release());
        }
        if (into != nullptr && fits_row(*into, base)) {
            for (auto it = scratch_.begin() + static_cast<std::ptrdiff_t>(base); it != scratch_.end(); ++it)
                into->append(it->as_number(), it->is_integer());
            scratch_.resize(base);
            *appended = true;
            return Json();
        }
        // Moved into a vector of exactly the count read: no slack capacity stays with the document.
        Json::Array items(std::make_move_iterator(scratch_.begin() + static_cast<std::ptrdiff_t>(base)),
                          std::make_move_iterator(scratch_.end()));
        scratch_.resize(base);
        return Json::array(std::move(items));
    }

    Json object(std::size_t depth) {
        enter(depth);
        ++p_;  // '{'
        Json::Object members;
        std::unordered_map<std::string, std::size_t> index;  // key -> member, only for large objects
        constexpr std::size_t kLinear = 16;
        skip_space();
        if (p_ != end_ && *p_ == '}') {
            ++p_;
            return Json::object(std::move(members));
        }
        path_.push_back(Segment{{}, 0, false});
        while (true) {
            skip_space();
            if (p_ == end_ || *p_ != '"') syntax("Expecting property name enclosed in double quotes");
            std::string key = string();
            if (lone_surrogate_) note_lone_surrogate("a key", 1);
            const Json* earlier = nullptr;
            if (members.size() < kLinear) {
                for (const auto& m : members)
                    if (m.first == key) earlier = &m.second;
            } else {
                if (index.empty())
                    for (std::size_t i = 0; i < members.size(); ++i) index.emplace(members[i].first, i);
                const auto found = index.find(key);
                if (found != index.end()) earlier = &members[found->second].second;
            }
            path_.back().key = key;
            skip_space();
            if (p_ == end_ || *p_ != ':') syntax("Expecting ':' delimiter");
            ++p_;
            skip_space();
            Json member = value(depth + 1);
            if (earlier != nullptr) {
                duplicate(key, *earlier, member);
            } else {
                if (!index.empty()) index.emplace(key, members.size());
                members.emplace_back(std::move(key), std::move(member));
            }
            skip_space();
            if (p_ != end_ && *p_ == ',') {
                ++p_;
                continue;
            }
            if (p_ != end_ && *p_ == '}') {
                ++p_;
                break;
            }
            syntax("Expecting ',' delimiter");
        }
        path_.pop_back();
        members.shrink_to_fit();
        return Json::object(std::move(members));
    }

    // A second copy of a key. With an identical value it means the same whichever copy a parser keeps: a
    // warning, and the copy is dropped. With a different value parsers disagree on the file's meaning.
    void duplicate(const std::string& key, const Json& earlier, const Json& again) {
        if (identical(earlier, again)) {
            warnings_.push_back({rules::kIdenticalDuplicateKey, pointer(),
                                 "duplicate key " + python_repr(key) + " with identical values; remove the copy",
                                 "unique keys", python_repr(key) + " twice"});
        } else if (!duplicate_) {
            duplicate_.emplace(ReadNote{
                rules::kDuplicateKey, pointer(),
                "duplicate key " + python_repr(key) +
                    " with different values (JSON parsers disagree on which value wins)",
                "unique keys", python_repr(key) + " twice"});
        }
    }

    static int hex_digit(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    // Four hex digits after "\u" at p_ (which points at the backslash); -1 when malformed.
    long hex4(const char* at) const {
        if (end_ - at < 6) return -1;
        long code = 0;
        for (int k = 2; k < 6; ++k) {
            const int d = hex_digit(at[k]);
            if (d < 0) return -1;
            code = code * 16 + d;
        }
        return code;
    }

    static void append_utf8(std::string& out, long code) {
        if (code < 0x80) out += static_cast<char>(code);
        else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (code >> 18));
            out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        }
    }

    // Sets lone_surrogate_ when the string holds an unpaired surrogate escape (kept as its three bytes, so
    // that it equals no other string; the document is refused).
    std::string string() {
        lone_surrogate_ = false;
        const char* start = p_;
        ++p_;  // '"'
        std::string out;
        while (true) {
            const char* run = p_;
            while (p_ != end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) ++p_;
            out.append(run, static_cast<std::size_t>(p_ - run));
            if (p_ == end_) syntax("Unterminated string starting at", start);
            if (*p_ == '"') {
                ++p_;
                return out;
            }
            if (*p_ != '\\') syntax("Invalid control character at");
            escape(out);
        }
    }

    void escape(std::string& out) {
        if (end_ - p_ < 2) syntax("Unterminated string starting at");
        const char c = p_[1];
        const char* simple = std::strchr("\"\\/bfnrt", c);
        if (c != '\0' && simple != nullptr) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            out += decoded[simple - "\"\\/bfnrt"];
            p_ += 2;
            return;
        }
        if (c != 'u') syntax("Invalid \\escape");
        long code = hex4(p_);
        if (code < 0) syntax("Invalid \\uXXXX escape");
        p_ += 6;
        if (code >= 0xD800 && code <= 0xDBFF && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
            const long low = hex4(p_);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                p_ += 6;
            }
        }
        // A surrogate without its pair encodes no character: nlohmann refuses it, and Python's reader makes a
        // string that cannot be written as UTF-8 (so every later message about it would fail to print).
        if (code >= 0xD800 && code <= 0xDFFF) lone_surrogate_ = true;
        append_utf8(out, code);
    }

    static bool digit(char c) { return c >= '0' && c <= '9'; }

    Json number() {
        const char* start = p_;
        if (*p_ == '-') {
            ++p_;
            if (literal("Infinity")) return non_finite("-Infinity");
        }
        if (p_ == end_ || !digit(*p_)) syntax("Expecting value", start);
        if (*p_ == '0') ++p_;
        else
            while (p_ != end_ && digit(*p_)) ++p_;
        bool integer = true;
        // As Python's NUMBER_RE: a fraction or exponent without digits is not part of the number.
        if (end_ - p_ >= 2 && *p_ == '.' && digit(p_[1])) {
            integer = false;
            p_ += 2;
            while (p_ != end_ && digit(*p_)) ++p_;
        }
        if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
            const char* e = p_ + 1;
            if (e != end_ && (*e == '+' || *e == '-')) ++e;
            if (e != end_ && digit(*e)) {
                integer = false;
                p_ = e;
                while (p_ != end_ && digit(*p_)) ++p_;
            }
        }
        if (integer) {
            std::int64_t i = 0;
            const auto [end, error] = std::from_chars(start, p_, i);
            if (error == std::errc() && end == p_) return Json::integer(i);
        }  // else beyond 64 bits: a double, like any other number
        double x = 0.0;
        const auto [ptr, ec] = std::from_chars(start, p_, x);
        if (ec == std::errc::result_out_of_range) {
            // Overflow or underflow: strtod tells which (HUGE_VAL, or a denormal or zero as Python gives).
            const std::string copy(start, p_);
            x = std::strtod(copy.c_str(), nullptr);
        } else if (ec != std::errc() || ptr != p_)
            syntax("Expecting value", start);
        if (!std::isfinite(x)) {
            const std::string_view text(start, static_cast<std::size_t>(p_ - start));
            note_non_finite("the number " + shown(text) + " overflows a double (RTNeural's parser refuses it)",
                            shown(text));
        }
        return Json::number(x);
    }

    const char* begin_;
    const char* p_;
    const char* end_;
    std::size_t max_depth_;
    std::vector<Segment> path_;
    // Elements of the arrays being read, innermost last. A deque grows in blocks, never copying what it holds:
    // the largest array of a file costs its elements once here and once in its exact-size vector, instead of
    // the up to three times a doubling vector would hold while it grows.
    std::deque<Json> scratch_;
    std::optional<ReadNote> duplicate_;
    std::optional<ReadNote> value_problem_;
    std::vector<ReadNote> warnings_;
    bool lone_surrogate_ = false;  // of the last string read
};

}  // namespace

ReadResult read_json(std::string_view text, std::size_t max_depth) {
    if (const auto problem = check_utf8(text))
        throw ReadError({rules::kNotUtf8, "",
                         "not valid UTF-8 (byte " + std::to_string(problem->offset) + ": " + problem->reason + ")",
                         "UTF-8 text", hex_byte(static_cast<unsigned char>(text[problem->offset]))});
    const std::size_t offset = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
    bool blank = true;
    for (std::size_t i = offset; i < text.size() && blank; ++i) blank = is_space(text[i]);
    if (blank) throw ReadError({rules::kEmpty, "", "empty document", "a JSON object", "nothing"});
    return Reader(text, offset, max_depth).document();
}

}  // namespace rtv
