// A minimal JSON document model: what the loader reads. Objects keep their key order so that messages list
// keys as the file has them. Numbers are doubles: every size the format declares is far below 2^53.
//
// A value is one 64-bit word: a 13 MB export holds about a million numbers, and the reader's peak memory is
// bounded by the file size times a small factor only if a number costs no more than its text ("0.123456,"
// is 9 bytes). A double is stored as itself (any NaN as the positive quiet NaN); every other value is a
// negative quiet NaN -- a bit pattern no stored double has -- whose bits 48-50 name its kind and whose low
// 48 bits hold a boolean, an integer of 48 bits, or a pointer (strings, arrays, objects, and integers
// beyond 48 bits live behind an owning pointer; user-space pointers fit 48 bits on every 64-bit target).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
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
    static Json boolean(bool b) { return Json(kBool, b ? 1 : 0); }
    static Json number(double x) {
        if (std::isnan(x)) x = std::numeric_limits<double>::quiet_NaN();
        Json j;
        std::memcpy(&j.w_, &x, sizeof x);
        if (j.boxed()) j.w_ = kCanonicalNaN;  // a NaN never carries a tag
        return j;
    }
    // A number written without a fraction or exponent that fits 64 bits: kept exactly, so that a Python view
    // of the document has the int the file has (as_number() gives it as a double, like every number).
    static Json integer(std::int64_t i) {
        if (i >= -kSmallLimit && i < kSmallLimit) return Json(kSmallInt, static_cast<std::uint64_t>(i) & kPayload);
        return Json(kBigInt, pointer_bits(new std::int64_t(i)));
    }
    static Json string(std::string s) { return Json(kString, pointer_bits(new std::string(std::move(s)))); }
    static Json array(std::size_t n) { return array(Array(n)); }
    static Json array(Array items) { return Json(kArray, pointer_bits(new Array(std::move(items)))); }
    static Json object(std::size_t n) { return object(Object(n)); }
    static Json object(Object members) { return Json(kObject, pointer_bits(new Object(std::move(members)))); }

    Json(const Json& other) : w_(other.w_) { copy_from(other); }
    Json(Json&& other) noexcept : w_(other.w_) { other.w_ = kNullWord; }
    Json& operator=(const Json& other) {
        if (this != &other) {
            Json copy(other);
            std::swap(w_, copy.w_);
        }
        return *this;
    }
    Json& operator=(Json&& other) noexcept {
        if (this != &other) {
            Json moved(std::move(other));
            std::swap(w_, moved.w_);
        }
        return *this;
    }
    ~Json() { release(); }

    Kind kind() const noexcept {
        if (!boxed()) return Kind::Number;
        switch (tag()) {
            case kNull: return Kind::Null;
            case kBool: return Kind::Bool;
            case kString: return Kind::String;
            case kArray: return Kind::Array;
            case kObject: return Kind::Object;
            default: return Kind::Number;  // kSmallInt, kBigInt
        }
    }
    bool is_number() const noexcept { return kind() == Kind::Number; }
    bool is_integer() const noexcept { return boxed() && (tag() == kSmallInt || tag() == kBigInt); }
    bool is_string() const noexcept { return boxed() && tag() == kString; }
    bool is_array() const noexcept { return boxed() && tag() == kArray; }
    bool is_object() const noexcept { return boxed() && tag() == kObject; }

    bool as_bool() const { return payload() != 0; }
    double as_number() const {
        if (is_integer()) return static_cast<double>(as_integer());
        double x;
        std::memcpy(&x, &w_, sizeof x);
        return x;
    }
    std::int64_t as_integer() const {  // only when is_integer()
        if (tag() == kBigInt) return *pointer<std::int64_t>();
        const std::uint64_t bits = payload();
        // Sign-extend the 48-bit payload.
        return static_cast<std::int64_t>(bits & kSignBit ? bits | ~kPayload : bits);
    }
    const std::string& as_string() const { return *pointer<std::string>(); }
    const Array& as_array() const { return *pointer<Array>(); }
    Array& as_array() { return *pointer<Array>(); }
    const Object& as_object() const { return *pointer<Object>(); }
    Object& as_object() { return *pointer<Object>(); }

    // The member named `key`, or nullptr. Linear: layer entries have a handful of keys.
    const Json* find(std::string_view key) const {
        for (const auto& [name, value] : as_object())
            if (name == key) return &value;
        return nullptr;
    }

private:
    static constexpr std::uint64_t kBoxBits = 0xFFF8'0000'0000'0000ULL;  // sign, exponent, quiet bit
    static constexpr std::uint64_t kTagBits = 0x0007'0000'0000'0000ULL;
    static constexpr std::uint64_t kPayload = 0x0000'FFFF'FFFF'FFFFULL;
    static constexpr std::uint64_t kSignBit = 0x0000'8000'0000'0000ULL;
    static constexpr std::int64_t kSmallLimit = std::int64_t(1) << 47;
    static constexpr std::uint64_t kCanonicalNaN = 0x7FF8'0000'0000'0000ULL;
    enum Tag : std::uint64_t { kNull = 0, kBool, kSmallInt, kBigInt, kString, kArray, kObject };
    static constexpr std::uint64_t kNullWord = kBoxBits;  // tag kNull, payload 0

    Json(Tag t, std::uint64_t payload_bits) noexcept : w_(kBoxBits | (std::uint64_t(t) << 48) | payload_bits) {}

    template <typename P>
    static std::uint64_t pointer_bits(P* p) noexcept {
        return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)) & kPayload;
    }
    template <typename P>
    P* pointer() const noexcept {
        return reinterpret_cast<P*>(static_cast<std::uintptr_t>(payload()));
    }

    bool boxed() const noexcept { return (w_ & kBoxBits) == kBoxBits; }
    Tag tag() const noexcept { return static_cast<Tag>((w_ & kTagBits) >> 48); }
    std::uint64_t payload() const noexcept { return w_ & kPayload; }

    void copy_from(const Json& other) {
        if (!other.boxed()) return;
        switch (other.tag()) {
            case kBigInt: w_ = Json::integer(other.as_integer()).release_word(); break;
            case kString: w_ = Json::string(other.as_string()).release_word(); break;
            case kArray: w_ = Json::array(other.as_array()).release_word(); break;
            case kObject: w_ = Json::object(other.as_object()).release_word(); break;
            default: break;  // the word is the value
        }
    }
    std::uint64_t release_word() noexcept {
        const std::uint64_t w = w_;
        w_ = kNullWord;
        return w;
    }
    void release() noexcept {
        if (boxed()) {
            switch (tag()) {
                case kBigInt: delete pointer<std::int64_t>(); break;
                case kString: delete pointer<std::string>(); break;
                case kArray: delete pointer<Array>(); break;
                case kObject: delete pointer<Object>(); break;
                default: break;
            }
        }
        w_ = kNullWord;
    }

    std::uint64_t w_ = kNullWord;
};

static_assert(sizeof(Json) == 8, "a JSON value is one word");
static_assert(sizeof(void*) == 8 || sizeof(void*) == 4, "pointers must fit the 48-bit payload");

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
