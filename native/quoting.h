// Values of the user's file quoted in a message: cut to a fixed length, their size stated, as
// verifier/quoting.py does (MAX_QUOTED there is kMaxQuoted here). A key, a layer type or an activation
// name may be megabytes long in a hostile file; a message echoing it whole would be as large as the file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rtv::quoting {

inline constexpr std::size_t kMaxQuoted = 40;  // characters (code points) shown

// 10485760 -> "10,485,760"
inline std::string with_commas(std::size_t n) {
    const std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

struct Cut {
    std::string_view head;  // the first kMaxQuoted characters, never half a UTF-8 sequence
    std::size_t characters;
    bool whole() const { return characters <= kMaxQuoted; }
    std::string size() const { return " (" + with_commas(characters) + " characters)"; }
};

inline Cut cut(std::string_view text) {
    std::size_t characters = 0, end = text.size();
    for (std::size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // inside a UTF-8 sequence
        if (characters == kMaxQuoted) end = i;
        ++characters;
    }
    return {text.substr(0, end), characters};
}

// `text` as is when short, else `aaaa… (10,485,760 characters)`.
inline std::string shown(std::string_view text) {
    const Cut c = cut(text);
    return c.whole() ? std::string(text) : std::string(c.head) + "\u2026" + c.size();
}

// `"swish"`, or `"aaaa…" (10,485,760 characters)` when long.
inline std::string quoted(std::string_view text, char quote = '"') {
    const Cut c = cut(text);
    if (c.whole()) return quote + std::string(text) + quote;
    return quote + std::string(c.head) + "\u2026" + quote + c.size();
}

}  // namespace rtv::quoting
