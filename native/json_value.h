// A minimal JSON document model: what the loader reads. Objects keep their key order so that messages list
// keys as the file has them. Numbers are doubles: every size the format declares is far below 2^53.
//
// A value is one 64-bit word: a 13 MB export holds about a million numbers, and the reader's peak memory is
// bounded by the file size times a small factor only if a number costs no more than its text ("0.123456,"
// is 9 bytes). A double is stored as itself (any NaN as the positive quiet NaN); every other value is a
// negative quiet NaN -- a bit pattern no stored double has -- whose bits 48-50 name its kind and whose low
// 48 bits hold a boolean, an integer of 48 bits, or a pointer (strings, arrays, objects, and integers
// beyond 48 bits live behind an owning pointer; user-space pointers fit 48 bits on every 64-bit target).
//
// A list of lists of numbers costs more than its text if each inner list is a container of its own ("[0.1],"
// is 6 bytes; a vector, its heap block and its word are over 60): the reader stores a rectangular nest of
// numbers of two or more levels as one NumberBlock (the numbers and the dims). Code that walks arrays reads
// them through JsonRef, which shows a flat array and a general one alike.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtv {

// A rectangular nest of numbers of at least two levels (every list at a level as long as the others, none
// empty), stored flat: its leaves row-major in one buffer, with the dims. The reader stores such an array
// so (a file of 2^20 one-element rows would otherwise cost a vector and a heap block per row, several times
// the row's text). Which leaves the file writes as integers is kept (Python's view has ints there); an
// integer a double cannot hold exactly keeps its array general.
class NumberBlock {
public:
    NumberBlock() = default;
    NumberBlock(const NumberBlock& other) : dims(other.dims), integer_bits_(other.integer_bits_) {
        for (std::size_t i = 0; i < other.count_; ++i) append(other.value(i), false);
    }
    NumberBlock& operator=(const NumberBlock&) = delete;
    ~NumberBlock() {
        for (double* chunk : chunks_) std::free(chunk);
    }

    std::vector<std::size_t> dims;

    std::size_t count() const noexcept { return count_; }
    double value(std::size_t i) const noexcept { return chunks_[i / kChunk][i % kChunk]; }
    bool integer(std::size_t i) const noexcept {
        return (i >> 6) < integer_bits_.size() && ((integer_bits_[i >> 6] >> (i & 63)) & 1) != 0;
    }
    // Leaves per element at `level` (the product of the dims below it).
    std::size_t stride(std::size_t level) const noexcept {
        std::size_t n = 1;
        for (std::size_t d = level + 1; d < dims.size(); ++d) n *= dims[d];
        return n;
    }
    // Leaves [first, first + n) into `out`.
    void copy(std::size_t first, std::size_t n, double* out) const noexcept {
        while (n != 0) {
            const std::size_t in_chunk = first % kChunk, take = std::min(n, kChunk - in_chunk);
            std::memcpy(out, chunks_[first / kChunk] + in_chunk, take * sizeof(double));
            out += take;
            first += take;
            n -= take;
        }
    }

    // Building (the reader). The leaves are stored in chunks of a fixed size, the last one grown in place:
    // nothing is ever copied to a bigger buffer, so the peak is the numbers themselves (a buffer doubling
    // as it grows would hold up to three times them at once).
    void append(double x, bool is_integer) {
        const std::size_t at = count_ % kChunk;
        if (at == 0 && count_ / kChunk == chunks_.size()) {
            chunks_.push_back(nullptr);
            last_capacity_ = 0;
        }
        // The first chunk grows from small (most arrays are small); the next ones are whole from the start.
        if (at == last_capacity_)
            grow(chunks_.size() > 1 ? kChunk : last_capacity_ < 16 ? 16 : std::min(kChunk, last_capacity_ * 2));
        if (is_integer) {
            if (integer_bits_.size() <= (count_ >> 6)) integer_bits_.resize((count_ >> 6) + 1, 0);
            integer_bits_[count_ >> 6] |= std::uint64_t(1) << (count_ & 63);
        }
        chunks_.back()[at] = x;
        ++count_;
    }
    void append(const NumberBlock& other) {
        for (std::size_t i = 0; i < other.count_; ++i) append(other.value(i), other.integer(i));
    }
    void shrink() {
        const std::size_t used = count_ - (chunks_.size() - 1) * kChunk;
        if (!chunks_.empty() && used < last_capacity_) {
            if (void* p = std::realloc(chunks_.back(), used * sizeof(double))) {
                chunks_.back() = static_cast<double*>(p);
                last_capacity_ = used;
            }
        }
        chunks_.shrink_to_fit();
        integer_bits_.shrink_to_fit();
    }

private:
    static constexpr std::size_t kChunk = 8192;  // leaves (64 KB)

    void grow(std::size_t capacity) {
        void* p = std::realloc(chunks_.back(), capacity * sizeof(double));
        if (p == nullptr) throw std::bad_alloc();
        chunks_.back() = static_cast<double*>(p);
        last_capacity_ = capacity;
    }

    std::vector<double*> chunks_;
    std::size_t count_ = 0, last_capacity_ = 0;
    std::vector<std::uint64_t> integer_bits_;  // empty while no leaf is an integer
};

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
    static Json numbers(NumberBlock* block) { return Json(kNumbers, pointer_bits(block)); }  // takes ownership

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
            case kArray:
            case kNumbers: return Kind::Array;
            case kObject: return Kind::Object;
            default: return Kind::Number;  // kSmallInt, kBigInt
        }
    }
    bool is_number() const noexcept { return kind() == Kind::Number; }
    bool is_integer() const noexcept { return boxed() && (tag() == kSmallInt || tag() == kBigInt); }
    bool is_string() const noexcept { return boxed() && tag() == kString; }
    // An array either way; as_array() only when !is_numbers() (read every array through JsonRef).
    bool is_array() const noexcept { return boxed() && (tag() == kArray || tag() == kNumbers); }
    bool is_numbers() const noexcept { return boxed() && tag() == kNumbers; }
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
    const Array& as_array() const { return *general_array(); }
    Array& as_array() { return *general_array(); }
    const NumberBlock& as_numbers() const { return *pointer<NumberBlock>(); }
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
    enum Tag : std::uint64_t { kNull = 0, kBool, kSmallInt, kBigInt, kString, kArray, kObject, kNumbers };
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
    Array* general_array() const {
        if (tag() != kArray) throw std::logic_error("a flat array of numbers read as a list of values");
        return pointer<Array>();
    }
    Tag tag() const noexcept { return static_cast<Tag>((w_ & kTagBits) >> 48); }
    std::uint64_t payload() const noexcept { return w_ & kPayload; }

    void copy_from(const Json& other) {
        if (!other.boxed()) return;
        switch (other.tag()) {
            case kBigInt: w_ = Json::integer(other.as_integer()).release_word(); break;
            case kString: w_ = Json::string(other.as_string()).release_word(); break;
            case kArray: w_ = Json::array(other.as_array()).release_word(); break;
            case kObject: w_ = Json::object(other.as_object()).release_word(); break;
            case kNumbers: w_ = Json::numbers(new NumberBlock(other.as_numbers())).release_word(); break;
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
                case kNumbers: delete pointer<NumberBlock>(); break;
                default: break;
            }
        }
        w_ = kNullWord;
    }

    std::uint64_t w_ = kNullWord;
};

static_assert(sizeof(Json) == 8, "a JSON value is one word");
static_assert(sizeof(void*) == 8 || sizeof(void*) == 4, "pointers must fit the 48-bit payload");

// A value of a document wherever it is stored: a Json, or an element (a number, or a list of a level) of a
// flat NumberBlock. Cheap to copy; valid while the document lives. Everything that walks arrays reads
// through it, so a flat array and a general one look the same.
class JsonRef {
public:
    JsonRef() noexcept : json_(&null_value()) {}  // null
    JsonRef(const Json& j) noexcept {  // NOLINT: implicit on purpose, a Json is a value of the document
        if (j.is_numbers()) block_ = &j.as_numbers();
        else json_ = &j;
    }

    Json::Kind kind() const noexcept {
        if (json_ != nullptr) return json_->kind();
        return level_ == block_->dims.size() ? Json::Kind::Number : Json::Kind::Array;
    }
    bool is_number() const noexcept { return kind() == Json::Kind::Number; }
    bool is_integer() const noexcept { return json_ != nullptr ? json_->is_integer() : is_number() && block_->integer(offset_); }
    bool is_string() const noexcept { return json_ != nullptr && json_->is_string(); }
    bool is_array() const noexcept { return kind() == Json::Kind::Array; }
    bool is_object() const noexcept { return json_ != nullptr && json_->is_object(); }

    bool as_bool() const { return json_->as_bool(); }
    double as_number() const { return json_ != nullptr ? json_->as_number() : block_->value(offset_); }
    std::int64_t as_integer() const {
        return json_ != nullptr ? json_->as_integer() : static_cast<std::int64_t>(block_->value(offset_));
    }
    const std::string& as_string() const { return json_->as_string(); }
    const Json::Object& as_object() const { return json_->as_object(); }

    // Arrays.
    std::size_t size() const { return json_ != nullptr ? json_->as_array().size() : block_->dims[level_]; }
    JsonRef at(std::size_t i) const {
        if (json_ != nullptr) return JsonRef(json_->as_array()[i]);
        JsonRef out(*this);
        out.offset_ = offset_ + i * block_->stride(level_);
        ++out.level_;
        return out;
    }
    JsonRef back() const { return at(size() - 1); }

    // The member named `key` of an object, or nullptr (for anything else too).
    const Json* find(std::string_view key) const {
        return json_ != nullptr && json_->is_object() ? json_->find(key) : nullptr;
    }

    // The Json itself (nullptr for a part of a flat array).
    const Json* json() const noexcept { return json_; }
    // For a part of a flat array: its block, the level it stands at and its first leaf (else nullptr).
    const NumberBlock* block() const noexcept { return block_; }
    std::size_t level() const noexcept { return level_; }
    std::size_t offset() const noexcept { return offset_; }

private:
    static const Json& null_value() noexcept {
        static const Json null;
        return null;
    }

    const Json* json_ = nullptr;
    const NumberBlock* block_ = nullptr;
    std::size_t level_ = 0, offset_ = 0;
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
