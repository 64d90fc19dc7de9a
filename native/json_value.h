// A minimal JSON document model: what the loader reads. Objects keep their key order so that messages list
// keys as the file has them. Numbers are doubles: every size the format declares is far below 2^53.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace rtv {

class Json {
public:
    using Array = std::vector<Json>;
    using Object = std::vector<std::pair<std::string, Json>>;
    enum class Kind { Null, Bool, Number, String, Array, Object };

    Json() = default;  // null
    static Json boolean(bool b) { return Json(Value(std::in_place_index<1>, b)); }
    static Json number(double x) { return Json(Value(std::in_place_index<2>, x)); }
    static Json string(std::string s) { return Json(Value(std::in_place_index<3>, std::move(s))); }
    static Json array(std::size_t n) { return Json(Value(std::in_place_index<4>, Array(n))); }
    static Json object(std::size_t n) { return Json(Value(std::in_place_index<5>, Object(n))); }

    Kind kind() const noexcept { return static_cast<Kind>(value_.index()); }
    bool is_number() const noexcept { return kind() == Kind::Number; }
    bool is_string() const noexcept { return kind() == Kind::String; }
    bool is_array() const noexcept { return kind() == Kind::Array; }
    bool is_object() const noexcept { return kind() == Kind::Object; }

    bool as_bool() const { return std::get<1>(value_); }
    double as_number() const { return std::get<2>(value_); }
    const std::string& as_string() const { return std::get<3>(value_); }
    const Array& as_array() const { return std::get<4>(value_); }
    Array& as_array() { return std::get<4>(value_); }
    const Object& as_object() const { return std::get<5>(value_); }
    Object& as_object() { return std::get<5>(value_); }

    // The member named `key`, or nullptr. Linear: layer entries have a handful of keys.
    const Json* find(std::string_view key) const {
        for (const auto& [name, value] : as_object())
            if (name == key) return &value;
        return nullptr;
    }

private:
    using Value = std::variant<std::monostate, bool, double, std::string, Array, Object>;
    explicit Json(Value value) : value_(std::move(value)) {}
    Value value_;
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
