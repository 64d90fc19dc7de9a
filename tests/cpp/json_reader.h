// A small strict JSON reader producing the engine's rtv::Json (native/json_value.h), for the C++ test
// program only: the Python package hands the engine parsed documents and has no C++ parser of its own.
// Reads what our exporter writes (objects, arrays, numbers, plain strings, true/false/null); throws
// std::runtime_error with the byte offset of anything else.
#pragma once

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "json_value.h"

namespace test_json {

class Reader {
public:
    explicit Reader(std::string text) : text_(std::move(text)) {}

    rtv::Json document() {
        rtv::Json value = parse_value(0);
        skip_space();
        if (pos_ != text_.size()) fail("trailing text");
        return value;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("JSON: " + what + " at byte " + std::to_string(pos_));
    }

    void skip_space() {
        while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }

    bool take(char c) {
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    void expect(char c) {
        if (!take(c)) fail(std::string("expected '") + c + "'");
    }

    bool literal(const char* word) {
        const std::string w(word);
        if (text_.compare(pos_, w.size(), w) != 0) return false;
        pos_ += w.size();
        return true;
    }

    std::string parse_string() {
        expect('"');
        std::string out;
        while (pos_ < text_.size() && text_[pos_] != '"') {
            char c = text_[pos_++];
            if (c == '\\') {
                if (pos_ >= text_.size()) fail("unfinished escape");
                const char e = text_[pos_++];
                if (e == 'n') c = '\n';
                else if (e == 't') c = '\t';
                else if (e == '"' || e == '\\' || e == '/') c = e;
                else fail("unsupported escape");
            }
            out += c;
        }
        if (pos_ >= text_.size()) fail("unfinished string");
        ++pos_;
        return out;
    }

    rtv::Json parse_value(int depth) {
        if (depth > 64) fail("nesting too deep");
        skip_space();
        if (pos_ >= text_.size()) fail("unexpected end");
        const char c = text_[pos_];
        if (c == '{') {
            ++pos_;
            rtv::Json object = rtv::Json::object(0);
            if (take('}')) return object;
            do {
                skip_space();
                std::string key = parse_string();
                expect(':');
                object.as_object().emplace_back(std::move(key), parse_value(depth + 1));
            } while (take(','));
            expect('}');
            return object;
        }
        if (c == '[') {
            ++pos_;
            rtv::Json array = rtv::Json::array(0);
            if (take(']')) return array;
            do array.as_array().push_back(parse_value(depth + 1));
            while (take(','));
            expect(']');
            return array;
        }
        if (c == '"') return rtv::Json::string(parse_string());
        if (literal("true")) return rtv::Json::boolean(true);
        if (literal("false")) return rtv::Json::boolean(false);
        if (literal("null")) return rtv::Json();
        const char* start = text_.c_str() + pos_;
        char* end = nullptr;
        const double number = std::strtod(start, &end);  // the program runs in the "C" locale
        if (end == start) fail("unexpected character");
        pos_ += static_cast<std::size_t>(end - start);
        return rtv::Json::number(number);
    }

    std::string text_;
    std::size_t pos_ = 0;
};

inline rtv::Json read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    return Reader(text.str()).document();
}

}  // namespace test_json
