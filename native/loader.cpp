// The keras-json loader: declarations, arrays, then build (layers only).
//
// The checks run in the order verifier.validate ranks its errors, so that the first refusal here is
// validate's first error (same rule id, same pointer):
//   1. declarations -- in_shape, layers, then every entry's keys in one fixed key order (kKeyOrder in
//      verifier/format/validate.py): the JSON Schema's keys, types, names and weight counts and nesting,
//      every declared width, and the limits (widths, implied parameters, held values). Nothing is
//      allocated from a declared size here;
//   2. arrays -- entry by entry: widths chaining from layer to layer and the exact shape of every weight
//      array (verifier/format/structure.py), the numbers read into vectors that grow with the data;
//   3. a model must compute something.
// Only then are layers built, with buffers whose sizes the limits bound.
#include "loader.h"

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>

#include "activation.h"
#include "batchnorm.h"
#include "conv1d.h"
#include "conv2d.h"
#include "dense.h"
#include "float32_range.h"
#include "gru.h"
#include "lstm.h"
#include "prelu.h"
#include "quoting.h"

namespace rtv {
namespace {

using Dims = std::vector<std::size_t>;
constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

[[noreturn]] void fail(const char* rule, const std::string& pointer, const std::string& message,
                       const std::string& expected = {}, const std::string& found = {}) {
    throw FormatError(rule, pointer, message, expected, found);
}

std::string number_text(double x) {
    char text[32];
    std::snprintf(text, sizeof text, "%.15g", x);
    return text;
}

std::string quoted(const std::string& s) { return quoting::quoted(s); }

// A short description of a found value for messages: `3.5`, `null`, `"swish"`, `an array of 3`.
std::string describe(JsonRef v) {
    switch (v.kind()) {
        case Json::Kind::Null: return "null";
        case Json::Kind::Bool: return v.as_bool() ? "true" : "false";
        case Json::Kind::Number: return number_text(v.as_number());
        case Json::Kind::String: return quoted(v.as_string());
        case Json::Kind::Array: return "an array of " + std::to_string(v.size());
        case Json::Kind::Object: return "an object";
    }
    return "?";
}

std::string dims_text(const Dims& dims) {
    std::string out;
    for (std::size_t d : dims) out += '[' + std::to_string(d) + ']';
    return out.empty() ? "[]" : out;
}

// null, booleans, strings and objects: where the schema wants a number or a list, these are the wrong JSON
// type (RTN-E102); a number where a list belongs, or the reverse, is a wrong shape.
bool wrong_kind(JsonRef v) { return !v.is_number() && !v.is_array(); }

// Numbers in the document are doubles; an integer beyond the double range arrives as +-inf (the binding
// converts it so, and read_document refuses every non-finite float), so inf is a huge integer here.
bool integral(double x) { return std::isinf(x) || x == std::floor(x); }

// JSON `3` or `3.0`, at least 1 (validate's positive_int).
std::optional<double> positive_int(JsonRef v) {
    if (!v.is_number()) return std::nullopt;
    const double x = v.as_number();
    if (!integral(x) || !(x >= 1)) return std::nullopt;
    return x;
}

// A value with the pointer to where it sits in the document.
struct Node {
    JsonRef value;
    std::string pointer;

    Node at(std::size_t i) const { return {value.at(i), pointer_child(pointer, i)}; }
    std::size_t size() const { return value.size(); }

    std::optional<Node> find(std::string_view key) const {
        const Json* member = value.find(key);
        if (member == nullptr) return std::nullopt;
        return Node{*member, pointer_child(pointer, key)};
    }

    // docs/format.md §13: RTNeural reads these keys with `.at` and throws when they are absent.
    Node require(std::string_view key, const std::string& why = {}) const {
        auto member = find(key);
        if (!member)
            fail(rules::kMissingKey, pointer_child(pointer, key), "missing required key '" + std::string(key) + "'" + why,
                 "key '" + std::string(key) + "'", "absent");
        return *member;
    }
};

// The schema's "type": "array".
void expect_array(const Node& n, const std::string& what) {
    if (!n.value.is_array()) fail(rules::kWrongType, n.pointer, what + " must be an array", "an array", describe(n.value));
}

// --- arrays: verifier/format/reader/arrays.py array_shape -----------------------------------------------

// validate's overflow_finding: a finite double float32 turns into an infinity.
[[noreturn]] void fail_float32_overflow(const std::string& pointer, double x) {
    fail(rules::kFloat32Overflow, pointer,
         number_text(x) + " is beyond float32's range: the float32 engine a plugin runs holds " + (x < 0 ? "-inf" : "inf") +
             " here, and the layer outputs inf or NaN; rescale the layer or export the weights within float32",
         "a number of magnitude at most 3.4028235e+38 (float32)", number_text(x));
}

// Checks that `v` is a rectangular `ndim`-deep nest of lists of finite numbers and appends the numbers in
// row-major (JSON) order to `out`; returns the dims. The first problem in document order is reported, as
// validate does. Pointers are built only on failure (a weight array may hold millions of numbers). For a
// float32 engine (`float32_warnings` given) a number float32 turns into inf is refused, and the first of
// those it turns into a subnormal or zero is one warning per array.
class ArrayReader {
public:
    ArrayReader(const Node& n, std::size_t ndim, std::vector<double>& out, std::vector<Warning>* float32_warnings)
        : base_(n.pointer), ndim_(ndim), out_(out), float32_warnings_(float32_warnings) {
        std::optional<JsonRef> node = n.value;
        for (std::size_t level = 0; level < ndim; ++level) {
            if (node && node->is_array()) {
                dims_.push_back(node->size());
                node = node->size() == 0 ? std::nullopt : std::optional<JsonRef>(node->at(0));
            } else {
                dims_.push_back(kNone);
                node = std::nullopt;
            }
        }
        index_.assign(ndim, 0);
        visit(n.value, 0);
        for (std::size_t& d : dims_)
            if (d == kNone) d = 0;  // only an empty list leaves a level unseen
        if (tiny_count_ > 0) note_underflow();
    }
    const Dims& dims() const { return dims_; }

private:
    std::string where(std::size_t level) const {
        std::string p = base_;
        for (std::size_t i = 0; i < level; ++i) p = pointer_child(p, index_[i]);
        return p;
    }

    // A part of a flat array whose dims are those the rest of the array must have: every leaf is a number
    // and no list is ragged, so only the numbers need a look (at their own pointer when one fails).
    bool flat_part(JsonRef v, std::size_t level) {
        const NumberBlock* block = v.block();
        if (block == nullptr || v.level() == block->dims.size()) return false;
        if (!std::equal(block->dims.begin() + static_cast<std::ptrdiff_t>(v.level()), block->dims.end(),
                        dims_.begin() + static_cast<std::ptrdiff_t>(level), dims_.end()))
            return false;
        const std::size_t n = v.level() == 0 ? block->count() : block->stride(v.level() - 1);
        const std::size_t first = v.offset();
        for (std::size_t k = 0; k < n; ++k) {
            const double x = block->value(first + k);
            if (std::isfinite(x) && (float32_warnings_ == nullptr || !float32_range::overflows(x)) &&
                (float32_warnings_ == nullptr || !float32_range::underflows(x)))
                continue;
            std::size_t rest = k;
            for (std::size_t l = ndim_; l-- > level;) {
                index_[l] = rest % dims_[l];
                rest /= dims_[l];
            }
            if (!std::isfinite(x))
                fail(rules::kNonFinite, where(ndim_), "every weight must be a finite number", "a finite number",
                     describe(leaf(v, k)));
            float32_number(x, ndim_);
        }
        const std::size_t before = out_.size();
        out_.resize(before + n);
        block->copy(first, n, out_.data() + before);
        return true;
    }

    static JsonRef leaf(JsonRef v, std::size_t k) {
        while (v.is_array()) {
            const std::size_t stride = v.block()->stride(v.level());
            v = v.at(k / stride);
            k %= stride;
        }
        return v;
    }

    void visit(JsonRef v, std::size_t level) {
        if (flat_part(v, level)) return;
        if (level == ndim_) {
            if (v.is_array())
                fail(rules::kWeightShape, where(level), "a list where a number belongs: the array is nested too deep",
                     "a number", describe(v));
            if (!v.is_number())
                fail(rules::kWrongType, where(level), "every weight must be a JSON number", "a number", describe(v));
            if (!std::isfinite(v.as_number()))
                fail(rules::kNonFinite, where(level), "every weight must be a finite number", "a finite number",
                     describe(v));
            if (float32_warnings_ != nullptr) float32_number(v.as_number(), level);
            out_.push_back(v.as_number());
            return;
        }
        if (!v.is_array())
            fail(rules::kWeightShape, where(level),
                 "the array is not nested deep enough: expected " + std::to_string(ndim_ - level) + " more level(s) of lists",
                 "a list", describe(v));
        const std::size_t count = v.size();
        if (count != dims_[level])
            fail(rules::kWeightShape, where(level), "the array is ragged: lists at one level must all have the same length",
                 std::to_string(dims_[level]) + " entries (as the first at this level)",
                 std::to_string(count) + " entries");
        for (std::size_t i = 0; i < count; ++i) {
            index_[level] = i;
            visit(v.at(i), level + 1);
        }
    }

    void float32_number(double x, std::size_t level) {
        if (float32_range::overflows(x)) fail_float32_overflow(where(level), x);
        if (float32_range::underflows(x) && tiny_count_++ == 0) {
            tiny_pointer_ = where(level);
            tiny_value_ = x;
        }
    }

    void note_underflow() const {
        // The same array may be read twice (its rows first, then its exact shape): one warning for it.
        for (const Warning& w : *float32_warnings_)
            if (w.pointer == tiny_pointer_) return;
        std::string message = number_text(tiny_value_) + " is below float32's normal range: the float32 engine holds " +
                              (std::fabs(tiny_value_) <= float32_range::kZeroAtOrBelow ? "zero" : "a subnormal");
        if (tiny_count_ > 1) message += " (" + std::to_string(tiny_count_) + " values of this array do)";
        float32_warnings_->push_back({rules::kFloat32Underflow, tiny_pointer_, message});
    }

    std::string base_;
    std::size_t ndim_;
    std::vector<double>& out_;
    std::vector<Warning>* float32_warnings_;
    Dims dims_, index_;
    std::size_t tiny_count_ = 0;
    std::string tiny_pointer_;
    double tiny_value_ = 0;
};

enum class LayerKind { Dense, Conv1D, Conv2D, GRU, LSTM, PReLU, BatchNorm, Activation };

struct TypeInfo {
    const char* name;
    LayerKind kind;
    std::size_t min_arrays, max_arrays;  // weight arrays
    std::vector<std::size_t> nesting;    // list depth of each array (structural schema); {} = any
    bool applies_activation;             // docs/format.md §3.4
    bool keeps_width;                    // built with the incoming width
};

const std::vector<TypeInfo>& types() {
    static const std::vector<TypeInfo> known = {
        {"dense", LayerKind::Dense, 1, 2, {2, 1}, true, false},
        {"time-distributed-dense", LayerKind::Dense, 1, 2, {2, 1}, true, false},
        {"conv1d", LayerKind::Conv1D, 2, 2, {3, 1}, true, false},
        {"conv2d", LayerKind::Conv2D, 2, 2, {4, 1}, true, false},
        {"gru", LayerKind::GRU, 3, 3, {2, 2, 2}, false, false},
        {"lstm", LayerKind::LSTM, 3, 3, {2, 2, 1}, false, false},
        {"prelu", LayerKind::PReLU, 1, 1, {2}, false, true},
        {"batchnorm", LayerKind::BatchNorm, 2, 4, {1, 1, 1, 1}, false, true},
        {"batchnorm2d", LayerKind::BatchNorm, 2, 4, {1, 1, 1, 1}, false, true},
        {"activation", LayerKind::Activation, 0, kNone, {}, true, true},
    };
    return known;
}

const char* const kLayerTypes =
    "one of dense, time-distributed-dense, conv1d, conv2d, gru, lstm, prelu, batchnorm, batchnorm2d, activation";

// One entry after its declarations were checked.
struct Entry {
    std::size_t index = 0;
    Node node{JsonRef(), {}};
    const TypeInfo* type = nullptr;
    std::size_t in = 0, out = 0;  // out: the shape's width
    std::string activation;       // as written ("" when absent or null)
    bool has_activation = false;
    std::size_t kernel_size = 1, dilation = 1, groups = 1;
    bool has_groups = false;
    Conv2DGeometry conv2d;
    std::size_t bn_channels = 0, bn_features = 1;
    double epsilon = 0;

    std::string at(std::string_view key) const { return pointer_child(node.pointer, key); }
    Node weights(std::size_t j) const { return node.find("weights")->at(j); }
    std::size_t weight_count() const { return node.find("weights")->size(); }
};

// One entry, checked, in format-independent terms; `add_layer` turns it into engine layers.
struct LayerSpec {
    LayerKind kind = LayerKind::Activation;
    std::size_t in = 0, out = 0;
    std::optional<ActivationKind> activation;  // appended after the layer; for kind Activation, none = identity
    std::vector<std::vector<double>> arrays;   // weight arrays flattened in JSON order
    std::size_t kernel_size = 1, dilation = 1, groups = 1;  // conv1d
    Conv2DGeometry conv2d;
    std::size_t features = 1;  // batchnorm: features per frame (batchnorm2d); channels = in / features
    double epsilon = 0;
};

struct ParsedModel {
    std::size_t in_size = 0;
    std::vector<LayerSpec> specs;
    std::vector<LayerInfo> infos;
    std::vector<Warning> warnings;
};

class Parser {
public:
    // `float32`: the model is built for a float32 engine, so every number must be one float32 holds.
    Parser(const Limits& limits, bool float32) : limits_(limits), float32_(float32) {}

    ParsedModel parse(const Json& document) {
        const Node root{document, ""};
        if (!document.is_object())
            fail(rules::kWrongType, "", "a keras-json model must be a JSON object", "an object", describe(document));
        declarations(root);
        for (Entry& entry : entries_) arrays(entry);
        bool computes = false;
        for (const auto& spec : result_.specs) computes |= spec.kind != LayerKind::Activation || spec.activation.has_value();
        if (!computes)
            fail(rules::kEmptyModel, "/layers",
                 "a model needs at least one layer that computes something (RTNeural's forward() crashes on a "
                 "model without layers)",
                 "at least one layer besides identity activation entries", "only identity activation entries");
        return std::move(result_);
    }

private:
    // --- 1. declarations --------------------------------------------------------------------------------

    void declarations(const Node& root) {
        const Node in_shape = root.require("in_shape", " (the model's input shape)");
        result_.in_size = shape_width(in_shape, "in_shape");
        const Node layers = root.require("layers", " (the list of layer entries)");
        expect_array(layers, "layers");
        // docs/format.md §2: an empty model loads in RTNeural and crashes on its first forward().
        if (layers.size() == 0)
            fail(rules::kEmptyModel, layers.pointer, "a model needs at least one layer", "a non-empty array", "[]");
        std::size_t width = result_.in_size;
        double parameters = 0, held = 0;
        for (std::size_t i = 0; i < layers.size(); ++i) {
            Entry entry = declared_entry(layers.at(i), i);
            entry.in = width;
            width = entry.type->keeps_width ? width : entry.out;
            parameters += declared_parameters(entry);
            if (parameters > static_cast<double>(limits_.max_total_parameters))
                fail(rules::kTooManyParameters, entry.node.pointer,
                     "the declared widths up to layer " + std::to_string(i) + " imply more weights than allowed",
                     "at most " + std::to_string(limits_.max_total_parameters) + " (Limits.max_total_parameters)",
                     number_text(parameters));
            held += declared_held_values(entry, width);
            if (held > static_cast<double>(limits_.max_state_values))
                fail(rules::kTooMuchState, entry.node.pointer,
                     "the outputs, recurrent state and convolution history declared up to layer " + std::to_string(i) +
                         " exceed the limit on values the engine holds",
                     "at most " + std::to_string(limits_.max_state_values) + " (Limits.max_state_values)",
                     number_text(held));
            entries_.push_back(std::move(entry));
        }
    }

    // A shape (or in_shape): an array, not empty, whose used entries (the last, or [2] and [3] of four) are
    // positive integers, with a product within the width limit.
    std::size_t shape_width(const Node& shape, const std::string& what) const {
        expect_array(shape, what);
        const std::size_t n = shape.size();
        if (n == 0) fail(rules::kUndefinedWidth, shape.pointer, what + " must not be empty", "a list ending in the width", "[]");
        double width = 1;
        for (std::size_t i : n == 4 ? Dims{2, 3} : Dims{n - 1}) {
            const auto v = positive_int(shape.at(i).value);
            if (!v)
                fail(rules::kUndefinedWidth, shape.at(i).pointer,
                     what + " must end in a positive integer width (or hold 4 entries with [2] and [3] set)",
                     "a positive integer", describe(shape.at(i).value));
            width *= *v;
        }
        too_wide(width, shape.pointer, what + " width");
        return static_cast<std::size_t>(width);
    }

    void too_wide(double value, const std::string& pointer, const std::string& what) const {
        if (value > static_cast<double>(limits_.max_layer_width))
            fail(rules::kTooWide, pointer, what + " exceeds the limit on declared widths",
                 "at most " + std::to_string(limits_.max_layer_width) + " (Limits.max_layer_width)", number_text(value));
    }

    Entry declared_entry(const Node& node, std::size_t index) {
        if (!node.value.is_object())
            fail(rules::kWrongType, node.pointer, "a layer entry must be an object", "an object", describe(node.value));
        // kKeyOrder: type, shape, weights, activation, then the keys of the type.
        const Node type_node = node.require("type");
        const TypeInfo* type = nullptr;
        for (const TypeInfo& t : types())
            if (type_node.value.is_string() && type_node.value.as_string() == t.name) type = &t;
        if (type == nullptr)
            fail(rules::kUnknownLayerType, type_node.pointer,
                 "unknown layer type " + describe(type_node.value) + " (RTNeural silently drops the entry)", kLayerTypes,
                 describe(type_node.value));
        Entry entry;
        entry.index = index;
        entry.node = node;
        entry.type = type;
        entry.out = shape_width(node.require("shape", " (the layer's output shape)"), "layer " + std::to_string(index) + " shape");
        declared_weights(node.require("weights", " (use [] for a layer without weights)"), *type);
        declared_activation(entry);
        switch (type->kind) {
            case LayerKind::Conv1D: declared_conv1d(entry); break;
            case LayerKind::Conv2D: declared_conv2d(entry); break;
            case LayerKind::BatchNorm: declared_batchnorm(entry); break;
            default: break;
        }
        return entry;
    }

    // The count of weight arrays and the list depth of each (the schema's prefixItems / items).
    static void declared_weights(const Node& weights, const TypeInfo& type) {
        expect_array(weights, "weights");
        const std::size_t n = weights.size();
        const bool batchnorm = type.kind == LayerKind::BatchNorm;
        if (n < type.min_arrays || n > type.max_arrays || (batchnorm && n == 3)) {
            std::string expected = batchnorm ? "2 or 4 arrays" : std::to_string(type.min_arrays) + " arrays";
            if (!batchnorm && type.max_arrays != type.min_arrays)
                expected = std::to_string(type.min_arrays) + " to " + std::to_string(type.max_arrays) + " arrays";
            fail(rules::kWeightCount, weights.pointer,
                 std::string(type.name) + " takes " + expected + " of weights", expected, std::to_string(n) + " arrays");
        }
        for (std::size_t j = 0; j < n && j < type.nesting.size(); ++j) {
            // Keras's reset_after=False writes one flat GRU bias, which RTNeural cannot read.
            const bool gru_bias = type.kind == LayerKind::GRU && j == 2;
            const std::string hint = gru_bias ? " (the gru bias is two rows [input bias, recurrent bias]: Keras "
                                                "reset_after=True; a flat bias is not supported by RTNeural)"
                                              : "";
            nested(weights.at(j), type.nesting[j], {weights.at(j).pointer, type.nesting[j], hint});
        }
    }

    struct NestedArray {
        std::string pointer;
        std::size_t depth;  // levels of lists the array must have
        std::string hint;
    };

    // `depth` levels of lists, checked in document order; what is below is left to the arrays pass.
    static void nested(const Node& n, std::size_t depth, const NestedArray& array) {
        if (!n.value.is_array()) {
            if (wrong_kind(n.value))
                fail(rules::kWrongType, n.pointer, "a weight array holds a value that is not a list", "an array",
                     describe(n.value));
            fail(rules::kWeightShape, array.pointer,
                 "this weight array is nested wrongly: a number where a list belongs" + array.hint,
                 std::to_string(array.depth) + (array.depth == 1 ? " level" : " levels") + " of lists",
                 "a number at " + n.pointer);
        }
        if (depth > 1)
            for (std::size_t i = 0; i < n.size(); ++i) nested(n.at(i), depth - 1, array);
    }

    // docs/format.md §3.1 and §4. `"activation": null` on lstm/gru is never read by RTNeural: a warning.
    void declared_activation(Entry& entry) {
        const auto node = entry.node.find("activation");
        if (!node) return;
        const bool recurrent = entry.type->kind == LayerKind::LSTM || entry.type->kind == LayerKind::GRU;
        if (node->value.kind() == Json::Kind::Null && recurrent) {
            warn(rules::kNullActivationIgnored, node->pointer,
                 "\"activation\": null on a " + std::string(entry.type->name) +
                     " entry; RTNeural never reads it there, write \"tanh\" or leave the key out");
            return;
        }
        if (!node->value.is_string())
            fail(rules::kWrongType, node->pointer, "activation must be a string", "a string", describe(node->value));
        entry.activation = node->value.as_string();
        entry.has_activation = true;
        if (entry.type->applies_activation && !entry.activation.empty() && !activation_from_name(entry.activation)) {
            const std::string& name = entry.activation;
            std::string hint;
            if (name == "linear" || name == "identity" || name == "none") hint = "; write \"\" for no activation";
            else if (activation_from_name(lower(name))) hint = "; names are lower case";
            fail(rules::kUnknownActivation, node->pointer,
                 "unknown activation " + quoted(name) + " (RTNeural crashes while loading it)" + hint,
                 "one of tanh, relu, sigmoid, softmax, elu or \"\"", quoted(name));
        }
    }

    static std::string lower(std::string s) {
        for (char& c : s)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        return s;
    }

    // The schema's lastInteger: a positive integer, or a non-empty list of them (RTNeural reads the last).
    std::size_t last_integer(const Node& entry, std::string_view key) const {
        const Node n = entry.require(key);
        const std::string what(key);
        if (wrong_kind(n.value))
            fail(rules::kWrongType, n.pointer, what + " must be a positive integer or a list ending in one",
                 "an integer or a list ending in one", describe(n.value));
        std::optional<double> value;
        if (n.value.is_array()) {
            for (std::size_t i = 0; i < n.value.size(); ++i) {
                value = positive_int(n.value.at(i));
                if (!value) break;
            }
        } else {
            value = positive_int(n.value);
        }
        if (!value)
            fail(rules::kInvalidValue, n.pointer, what + " must be a positive integer or a list ending in one",
                 "a positive integer", describe(n.value));
        too_wide(*value, n.pointer, what);
        return static_cast<std::size_t>(*value);
    }

    // The schema's {"type": "integer", "minimum": 1}.
    std::size_t plain_integer(const Node& n, const std::string& what) const {
        if (!n.value.is_number() || !integral(n.value.as_number()))
            fail(rules::kWrongType, n.pointer, what + " must be an integer", "an integer", describe(n.value));
        if (!(n.value.as_number() >= 1))
            fail(rules::kInvalidValue, n.pointer, what + " must be at least 1", "an integer >= 1", describe(n.value));
        too_wide(n.value.as_number(), n.pointer, what);
        return static_cast<std::size_t>(n.value.as_number());
    }

    void declared_conv1d(Entry& e) {
        e.kernel_size = last_integer(e.node, "kernel_size");
        e.dilation = last_integer(e.node, "dilation");
        if (const auto groups = e.node.find("groups")) {
            e.groups = plain_integer(*groups, "groups");
            e.has_groups = true;
        }
    }

    void declared_conv2d(Entry& e) {
        // docs/format.md §3.5: all required; read as "last element".
        Conv2DGeometry& g = e.conv2d;
        g.dilation = last_integer(e.node, "dilation");
        g.kernel_time = last_integer(e.node, "kernel_size_time");
        g.kernel_feature = last_integer(e.node, "kernel_size_feature");
        g.stride = last_integer(e.node, "strides");
        g.channels_in = last_integer(e.node, "num_filters_in");
        g.features_in = last_integer(e.node, "num_features_in");
        g.channels_out = last_integer(e.node, "num_filters_out");
        const Node padding = e.node.require("padding");
        // RTNeural treats every string but "valid" as same; anything but the two Keras names is a typo
        // that would be misread.
        if (!padding.value.is_string() || (padding.value.as_string() != "valid" && padding.value.as_string() != "same"))
            fail(rules::kInvalidValue, padding.pointer, "padding must be \"valid\" or \"same\"", "\"valid\" or \"same\"",
                 describe(padding.value));
        g.same_padding = padding.value.as_string() == "same";
    }

    void declared_batchnorm(Entry& e) {
        if (std::string_view(e.type->name) == "batchnorm2d") {
            e.bn_channels = plain_integer(e.node.require("num_filters_in"), "num_filters_in");
            e.bn_features = plain_integer(e.node.require("num_features_in"), "num_features_in");
        }
        const Node epsilon = e.node.require("epsilon");
        if (!epsilon.value.is_number())
            fail(rules::kWrongType, epsilon.pointer, "epsilon must be a number", "a number", describe(epsilon.value));
        if (!(epsilon.value.as_number() >= 0))
            fail(rules::kInvalidValue, epsilon.pointer, "epsilon must not be negative", "a number >= 0",
                 describe(epsilon.value));
        e.epsilon = epsilon.value.as_number();
    }

    // Weights the declared sizes imply (validate's _declared_params), before any array is read.
    static double declared_parameters(const Entry& e) {
        const double in = static_cast<double>(e.in), out = static_cast<double>(e.out);
        switch (e.type->kind) {
            case LayerKind::Dense: return in * out + out;
            case LayerKind::LSTM: return 4 * out * (in + out + 1);
            case LayerKind::GRU: return 3 * out * (in + out + 2);
            case LayerKind::Conv1D: return double(e.kernel_size) * double(e.in / e.groups) * out + out;
            case LayerKind::Conv2D: {
                const Conv2DGeometry& g = e.conv2d;
                return double(g.kernel_time) * double(g.kernel_feature) * double(g.channels_in) * double(g.channels_out) +
                       double(g.channels_out);
            }
            case LayerKind::PReLU:
            case LayerKind::BatchNorm: return 4 * in;
            case LayerKind::Activation: return 0;
        }
        return 0;
    }

    // Values the engine will hold for the entry besides its weights (validate's _declared_held_values): its
    // output, recurrent state, and a convolution's history of past inputs.
    static double declared_held_values(const Entry& e, std::size_t out_width) {
        double held = static_cast<double>(out_width);
        const double out = static_cast<double>(e.out);
        switch (e.type->kind) {
            case LayerKind::LSTM: return held + 2 * out;
            case LayerKind::GRU: return held + out;
            case LayerKind::Conv1D:
                return held + (double(e.kernel_size - 1) * double(e.dilation) + 1) * double(e.in);
            case LayerKind::Conv2D: {
                const Conv2DGeometry& g = e.conv2d;
                return held + (double(g.kernel_time - 1) * double(g.dilation) + 1) * double(g.features_in) *
                                  double(g.channels_in);
            }
            default: return held;
        }
    }

    // --- 2. arrays (verifier/format/structure.py, entry by entry) --------------------------------------------

    void arrays(Entry& e) {
        LayerSpec spec;
        spec.in = e.in;
        switch (e.type->kind) {
            case LayerKind::Dense: dense(e, spec); break;
            case LayerKind::LSTM: recurrent(e, spec, 4); break;
            case LayerKind::GRU: recurrent(e, spec, 3); break;
            case LayerKind::Conv1D: conv1d(e, spec); break;
            case LayerKind::Conv2D: conv2d(e, spec); break;
            case LayerKind::BatchNorm: batchnorm(e, spec); break;
            case LayerKind::PReLU: prelu(e, spec); break;
            case LayerKind::Activation: activation_layer(e, spec); break;
        }
        spec.kind = e.type->kind;
        if (e.type->applies_activation && !e.activation.empty()) spec.activation = activation_from_name(e.activation);
        else if (!e.type->applies_activation && !e.activation.empty() &&
                 !((e.type->kind == LayerKind::LSTM || e.type->kind == LayerKind::GRU) && e.activation == "tanh"))
            // Keras writes "tanh" on every recurrent layer, and tanh is what RTNeural's fixed gates use anyway:
            // only another name deserves a warning (validate draws the same line, RTN-W001).
            warn(rules::kIgnoredActivation, e.at("activation"),
                 "activation " + quoted(e.activation) + " is ignored by RTNeural on a " + e.type->name +
                     " layer; add a separate activation entry to apply it");
        result_.infos.push_back({e.index, e.type->name, e.in, spec.out, e.activation, e.node.pointer});
        result_.specs.push_back(std::move(spec));
    }

    Dims read(const Node& n, std::size_t ndim, std::vector<double>& out) {
        return ArrayReader(n, ndim, out, float32_ ? &result_.warnings : nullptr).dims();
    }

    // The array's shape must be `expected` (validate's _check_arrays).
    std::vector<double> read_exact(const Node& n, const Dims& expected, const std::string& what) {
        std::vector<double> out;
        const Dims found = read(n, expected.size(), out);
        if (found != expected)
            fail(rules::kWeightShape, n.pointer, what + " has the wrong shape", dims_text(expected), dims_text(found));
        return out;
    }

    [[noreturn]] static void chain(const Entry& e, const std::string& pointer, const std::string& what, std::size_t found) {
        fail(rules::kWidthChain, pointer, what + " disagrees with the width arriving at layer " + std::to_string(e.index),
             std::to_string(e.in) + (e.index == 0 ? " (from in_shape)" : " (from the previous layer)"),
             std::to_string(found));
    }

    void dense(const Entry& e, LayerSpec& spec) {
        spec.out = e.out;
        std::vector<double> kernel;
        const Node k = e.weights(0);
        const Dims d = read(k, 2, kernel);
        const std::size_t rows = d[0], cols = d[1];
        if (rows == e.out && cols == e.in && rows != cols)
            fail(rules::kDenseTransposed, k.pointer,
                 "the dense kernel is written [out][in] (PyTorch's Linear.weight); RTNeural wants [in][out]: transpose it",
                 dims_text({e.in, e.out}), dims_text(d));
        if (rows != e.in) chain(e, k.pointer, "the dense kernel's row count (its input width)", rows);
        if (cols != e.out)
            fail(rules::kWeightShape, k.pointer, "the dense kernel must have one column per output", dims_text({rows, e.out}),
                 dims_text(d));
        spec.arrays.push_back(std::move(kernel));
        if (e.weight_count() == 2) {
            spec.arrays.push_back(read_exact(e.weights(1), {cols}, "the dense bias"));
        } else {
            warn(rules::kBiasFreeDense, e.at("weights"), "dense layer without a bias array: RTNeural uses a zero bias");
        }
    }

    void recurrent(const Entry& e, LayerSpec& spec, std::size_t gates) {
        const std::string name = e.type->name;
        const std::size_t hidden = e.out;
        spec.out = hidden;
        std::vector<double> kernel;
        const Dims d = read(e.weights(0), 2, kernel);
        if (d[0] != e.in) chain(e, e.weights(0).pointer, "the " + name + " kernel's row count (its input width)", d[0]);
        const std::size_t width = gates * hidden;
        const std::string h = " with H = " + std::to_string(hidden) + " from shape";
        spec.arrays.push_back(read_exact(e.weights(0), {d[0], width}, "the " + name + " kernel [in][" + std::to_string(gates) + "H]" + h));
        spec.arrays.push_back(read_exact(e.weights(1), {hidden, width}, "the " + name + " recurrent kernel [H][" + std::to_string(gates) + "H]" + h));
        const Dims bias = gates == 4 ? Dims{width} : Dims{2, width};
        spec.arrays.push_back(read_exact(e.weights(2), bias,
                                         gates == 4 ? "the lstm bias (PyTorch's bias_ih + bias_hh)"
                                                    : "the gru bias (row 0 input, row 1 recurrent; Keras reset_after=True)"));
    }

    void conv1d(const Entry& e, LayerSpec& spec) {
        spec.out = e.out;
        spec.kernel_size = e.kernel_size;
        spec.dilation = e.dilation;
        spec.groups = e.groups;
        conv1d_ignored_keys(e);
        std::vector<double> scratch;
        const Dims d = read(e.weights(0), 3, scratch);
        const std::size_t per_group = d[1];
        // docs/format.md §9: without `groups` RTNeural builds one group and leaves the other channels' weights
        // at zero, silently; the kernel's middle axis (in/groups) tells what was meant.
        if (!e.has_groups && per_group != 0 && per_group != e.in && e.in % per_group == 0)
            fail(rules::kGroupsMissing, e.at("groups"),
                 "missing 'groups': the kernel's middle axis is " + std::to_string(per_group) + " = in/groups, so groups "
                 "must be " + std::to_string(e.in / per_group) + " (RTNeural would use 1 and compute something else)",
                 "groups " + std::to_string(e.in / per_group), "no groups key");
        if (e.in % e.groups != 0 || e.out % e.groups != 0)
            fail(rules::kGroupsInvalid, e.at("groups"), "groups must divide both the input and the output width",
                 "a divisor of " + std::to_string(e.in) + " and " + std::to_string(e.out), std::to_string(e.groups));
        if (per_group * e.groups != e.in) chain(e, e.weights(0).pointer, "the conv1d kernel's middle axis x groups", per_group * e.groups);
        spec.arrays.push_back(read_exact(e.weights(0), {e.kernel_size, per_group, e.out}, "the conv1d kernel [kernel_size][in/groups][out]"));
        spec.arrays.push_back(read_exact(e.weights(1), {e.out}, "the conv1d bias"));
    }

    void conv1d_ignored_keys(const Entry& e) {
        if (const auto strides = e.node.find("strides")) {
            const JsonRef last = strides->value.is_array() && strides->size() > 0 ? strides->value.back() : strides->value;
            if (!(last.is_number() && last.as_number() == 1))
                warn(rules::kConv1DIgnoredKey, strides->pointer, "RTNeural's JSON conv1d has no strides: it computes every step");
        }
        if (const auto padding = e.node.find("padding"))
            if (!(padding->value.is_string() && padding->value.as_string() == "causal"))
                warn(rules::kConv1DIgnoredKey, padding->pointer, "RTNeural's JSON conv1d is always causal; this padding is ignored");
    }

    void conv2d(const Entry& e, LayerSpec& spec) {
        const Conv2DGeometry& g = e.conv2d;
        spec.conv2d = g;
        if (g.features_in * g.channels_in != e.in)
            chain(e, e.at("num_features_in"), "conv2d num_features_in x num_filters_in", g.features_in * g.channels_in);
        // RTNeural's "same" convolution along features reads past the frame for some kernels wider than it
        // (AddressSanitizer: heap-buffer-overflow; its backends disagree): what a plugin gets is undefined.
        if (g.rtneural_reads_outside_frame())
            fail(rules::kOutOfBoundsRead, e.at("kernel_size_feature"),
                 "kernel_size_feature with \"same\" padding and this stride makes a window overhang both edges of "
                 "the frame (num_features_in): RTNeural reads outside its frame buffer and its output is undefined",
                 "at most " + std::to_string(g.features_in), std::to_string(g.kernel_feature));
        const std::size_t features_out = g.features_out();  // 0 when a valid kernel is wider than the frame
        if (features_out * g.channels_out != e.out)
            fail(rules::kConv2DOutputShape, e.at("shape"),
                 "conv2d shape must give F_out x num_filters_out computed from the input, kernel, strides and padding; "
                 "RTNeural returns a null model",
                 std::to_string(features_out * g.channels_out), std::to_string(e.out));
        spec.out = e.out;
        spec.arrays.push_back(read_exact(e.weights(0), {g.kernel_time, g.kernel_feature, g.channels_in, g.channels_out},
                                         "the conv2d kernel [K_time][K_feature][C_in][C_out]"));
        spec.arrays.push_back(read_exact(e.weights(1), {g.channels_out}, "the conv2d bias"));
    }

    // activation and batchnorm entries are built with the incoming width; their shape must repeat it.
    static void same_width_shape(const Entry& e) {
        if (e.out != e.in) chain(e, e.at("shape"), "the " + std::string(e.type->name) + " entry's shape width", e.out);
    }

    void batchnorm(const Entry& e, LayerSpec& spec) {
        if (!std::isfinite(e.epsilon))
            fail(rules::kNonFinite, e.at("epsilon"), "epsilon must be a finite number", "a finite number", number_text(e.epsilon));
        if (float32_ && float32_range::overflows(e.epsilon)) fail_float32_overflow(e.at("epsilon"), e.epsilon);
        if (float32_ && float32_range::underflows(e.epsilon))
            warn(rules::kFloat32Underflow, e.at("epsilon"),
                 number_text(e.epsilon) + " is below float32's normal range: the float32 engine holds " +
                     (std::fabs(e.epsilon) <= float32_range::kZeroAtOrBelow ? "zero" : "a subnormal"));
        std::size_t channels = e.in;
        spec.features = 1;
        if (std::string_view(e.type->name) == "batchnorm2d") {
            // docs/format.md §11 batchnorm2d: parameters per channel, applied to every feature.
            if (e.bn_channels * e.bn_features != e.in)
                chain(e, e.at("num_features_in"), "batchnorm2d num_features_in x num_filters_in", e.bn_channels * e.bn_features);
            channels = e.bn_channels;
            spec.features = e.bn_features;
        }
        same_width_shape(e);
        const std::size_t count = e.weight_count();
        for (std::size_t j = 0; j < count; ++j)
            spec.arrays.push_back(read_exact(e.weights(j), {channels}, "a batchnorm parameter array (one value per channel)"));
        const std::vector<double>& variance = spec.arrays.back();
        for (std::size_t c = 0; c < channels; ++c)
            if (!(variance[c] + e.epsilon > 0))
                fail(rules::kInvalidValue, pointer_child(e.weights(count - 1).pointer, c),
                     "moving variance + epsilon must be positive, or this channel's output is NaN or inf",
                     "variance + epsilon > 0",
                     "variance " + number_text(variance[c]) + " with epsilon " + number_text(e.epsilon));
        spec.epsilon = e.epsilon;
        spec.out = e.in;
    }

    void prelu(const Entry& e, LayerSpec& spec) {
        std::vector<double> alphas;
        const Node alpha = e.weights(0);
        const Dims d = read(alpha, 2, alphas);
        // docs/format.md §12: RTNeural reads weights[0][0] only; one alpha is broadcast to every channel.
        if (d[0] != 1)
            fail(rules::kWeightShape, alpha.pointer,
                 "prelu weights[0] must hold exactly one row of alphas; RTNeural reads only the first row",
                 "[1][channels] or [1][1]", dims_text(d));
        if (d[1] != 1 && d[1] != e.in)
            fail(rules::kWeightShape, alpha.at(0).pointer, "prelu needs one alpha per channel, or a single alpha shared by all",
                 "1 or " + std::to_string(e.in) + " alphas", std::to_string(d[1]));
        // docs/format.md §12: a prelu's shape is read but not used (its width is the previous layer's), so a
        // mismatch computes correctly in RTNeural: worth a warning, not a refusal.
        if (e.out != e.in)
            warn(rules::kPReLUShapeIgnored, e.at("shape"),
                 "prelu shape says " + std::to_string(e.out) + " but " + std::to_string(e.in) +
                     " channels arrive; RTNeural ignores a prelu's shape");
        spec.arrays.push_back(std::move(alphas));
        spec.out = e.in;
    }

    void activation_layer(const Entry& e, LayerSpec& spec) {
        if (e.activation.empty())
            warn(rules::kNoOpActivation, e.at("activation"),
                 "activation entry without an activation does nothing (RTNeural adds no layer)");
        if (e.weight_count() != 0) warn(rules::kNoOpActivation, e.at("weights"), "weights of an activation layer are ignored");
        same_width_shape(e);
        spec.out = e.in;
    }

    void warn(const char* rule, std::string pointer, std::string message) {
        result_.warnings.push_back({rule, std::move(pointer), std::move(message)});
    }

    Limits limits_;
    bool float32_;
    std::vector<Entry> entries_;
    ParsedModel result_;
};

template <typename T>
void add_layer(Model<T>& model, const LayerSpec& s) {
    const auto& a = s.arrays;
    static const std::vector<double> none;
    switch (s.kind) {
        case LayerKind::Dense:
            model.add(std::make_unique<Dense<T>>(s.in, s.out, a[0], a.size() > 1 ? a[1] : none));
            break;
        case LayerKind::Conv1D:
            model.add(std::make_unique<Conv1D<T>>(s.in, s.out, s.kernel_size, s.dilation, s.groups, a[0], a[1]));
            break;
        case LayerKind::Conv2D:
            model.add(std::make_unique<Conv2D<T>>(s.conv2d, a[0], a[1]));
            break;
        case LayerKind::GRU:
            model.add(std::make_unique<GRU<T>>(s.in, s.out, a[0], a[1], a[2]));
            break;
        case LayerKind::LSTM:
            model.add(std::make_unique<LSTM<T>>(s.in, s.out, a[0], a[1], a[2]));
            break;
        case LayerKind::PReLU:
            model.add(std::make_unique<PReLU<T>>(s.in, a[0]));
            break;
        case LayerKind::BatchNorm: {
            const bool affine = a.size() == 4;
            model.add(std::make_unique<BatchNorm<T>>(s.features, s.in / s.features, affine ? a[0] : none,
                                                     affine ? a[1] : none, a[a.size() - 2], a[a.size() - 1], s.epsilon));
            break;
        }
        case LayerKind::Activation:
            break;  // the activation itself is appended below
    }
    if (s.activation) model.add(std::make_unique<Activation<T>>(*s.activation, s.out));
}

}  // namespace

template <typename T>
LoadedModel<T> load_keras_json(const Json& document, const Limits& limits) {
    ParsedModel parsed = Parser(limits, std::is_same_v<T, float>).parse(document);
    LoadedModel<T> loaded{Model<T>(parsed.in_size), std::move(parsed.infos), std::move(parsed.warnings), {}};
    for (const LayerSpec& spec : parsed.specs) {
        add_layer(loaded.model, spec);
        loaded.entry_outputs.push_back(static_cast<std::ptrdiff_t>(loaded.model.layer_count()) - 1);
    }
    return loaded;
}

template LoadedModel<float> load_keras_json<float>(const Json&, const Limits&);
template LoadedModel<double> load_keras_json<double>(const Json&, const Limits&);

}  // namespace rtv
