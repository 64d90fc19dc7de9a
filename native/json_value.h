// A minimal JSON document model: what the loader reads. Objects keep their key order so that messages list
// keys as the file has them. Numbers are doubles: every size the format declares is far below 2^53.
//
// A value is 16 bytes (a tag and one word): a 13 MB export holds about a million numbers, and the reader's
// peak memory is bounded by the file size times a small factor only if a number costs little more than its
// text. Strings, arrays and objects live behind an owning pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtv {

class Json {
public:
    using Array = std::vector<Json>;
    using Object = std::vector<std::pair<std::string, Json>>;
    enum class Kind : std::uint8_t { Null, Bool, Number, String, Array, Object };

    Json() noexcept = default;  // null
    static Json boolean(bool b) {
        Json j(Kind::Bool);
        j.b_ = b;
        return j;
    }
    static Json number(double x) {
        Json j(Kind::Number);
        j.d_ = x;
        return j;
    }
    // A number written without a fraction or exponent that fits 64 bits: kept exactly, so that a Python view
    // of the document has the int the file has (as_number() gives it as a double, like every number).
    static Json integer(std::int64_t i) {
        Json j(Kind::Number);
        j.i_ = i;
        j.integer_ = true;
        return j;
    }
    static Json string(std::string s) {
        Json j(Kind::String);
        j.s_ = new std::string(std::move(s));
        return j;
    }
    static Json array(std::size_t n) { return array(Array(n)); }
    static Json array(Array items) {
        Json j(Kind::Array);
        j.a_ = new Array(std::move(items));
        return j;
    }
    static Json object(std::size_t n) { return object(Object(n)); }
    static Json object(Object members) {
        Json j(Kind::Object);
        j.o_ = new Object(std::move(members));
        return j;
    }

    Json(const Json& other) : kind_(other.kind_), integer_(other.integer_) { copy_from(other); }
    Json(Json&& other) noexcept : kind_(other.kind_), integer_(other.integer_), d_(other.d_) {
        other.kind_ = Kind::Null;
    }
    Json& operator=(const Json& other) {
        if (this != &other) {
            Json copy(other);
            swap(copy);
        }
        return *this;
    }
    Json& operator=(Json&& other) noexcept {
        if (this != &other) {
            Json moved(std::move(other));
            swap(moved);
        }
        return *this;
    }
    ~Json() { release(); }

    Kind kind() const noexcept { return kind_; }
    bool is_number() const noexcept { return kind_ == Kind::Number; }
    bool is_integer() const noexcept { return kind_ == Kind::Number && integer_; }
    bool is_string() const noexcept { return kind_ == Kind::String; }
    bool is_array() const noexcept { return kind_ == Kind::Array; }
    bool is_object() const noexcept { return kind_ == Kind::Object; }

    bool as_bool() const { return b_; }
    double as_number() const { return integer_ ? static_cast<double>(i_) : d_; }
    std::int64_t as_integer() const { return i_; }  // only when is_integer()
    const std::string& as_string() const { return *s_; }
    const Array& as_array() const { return *a_; }
    Array& as_array() { return *a_; }
    const Object& as_object() const { return *o_; }
    Object& as_object() { return *o_; }

    // The member named `key`, or nullptr. Linear: layer entries have a handful of keys.
    const Json* find(std::string_view key) const {
        for (const auto& [name, value] : as_object())
            if (name == key) return &value;
        return nullptr;
    }

private:
    explicit Json(Kind kind) noexcept : kind_(kind) {}

    void swap(Json& other) noexcept {
        std::swap(kind_, other.kind_);
        std::swap(integer_, other.integer_);
        std::swap(d_, other.d_);  // the widest member carries the whole word
    }
    void copy_from(const Json& other) {
        switch (other.kind_) {
            case Kind::String: s_ = new std::string(*other.s_); break;
            case Kind::Array: a_ = new Array(*other.a_); break;
            case Kind::Object: o_ = new Object(*other.o_); break;
            default: d_ = other.d_;
        }
    }
    void release() noexcept {
        switch (kind_) {
            case Kind::String: delete s_; break;
            case Kind::Array: delete a_; break;
            case Kind::Object: delete o_; break;
            default: break;
        }
        kind_ = Kind::Null;
    }

    Kind kind_ = Kind::Null;
    bool integer_ = false;
    union {
        bool b_;
        double d_ = 0.0;
        std::int64_t i_;
        std::string* s_;
        Array* a_;
        Object* o_;
    };
};

// RFC 6901: "~" and "/" inside a key are escaped as "~0" and "~1".
inline std::string pointer_child(const std::string& parent, std::string_view key) {
    std::string out = parent;
    out += '/';
    for (char c : key) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

inline std::string pointer_child(const std::string& parent, std::size_t index) {
    return parent + '/' + std::to_string(index);
}

}  // namespace rtv
