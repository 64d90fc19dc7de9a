// The keras-json loader: parse (every check, format knowledge only) then build (layers only).
#include "loader.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string_view>

#include "activation.h"
#include "batchnorm.h"
#include "conv1d.h"
#include "conv2d.h"
#include "dense.h"
#include "gru.h"
#include "lstm.h"
#include "prelu.h"

namespace rtv {
namespace {

using Dims = std::vector<std::size_t>;

[[noreturn]] void fail(const std::string& pointer, const std::string& message, const std::string& expected = {},
                       const std::string& found = {}) {
    throw FormatError(pointer, message, expected, found);
}

std::string number_text(double x) {
    char text[32];
    std::snprintf(text, sizeof text, "%.15g", x);
    return text;
}

std::string quoted(const std::string& s) {
    constexpr std::size_t kShown = 40;
    return '"' + (s.size() > kShown ? s.substr(0, kShown) + "..." : s) + '"';
}

// A short description of a found value for messages: `3.5`, `null`, `"swish"`, `an array of 3`.
std::string describe(const Json& v) {
    switch (v.kind()) {
        case Json::Kind::Null: return "null";
        case Json::Kind::Bool: return v.as_bool() ? "true" : "false";
        case Json::Kind::Number: return number_text(v.as_number());
        case Json::Kind::String: return quoted(v.as_string());
        case Json::Kind::Array: return "an array of " + std::to_string(v.as_array().size());
        case Json::Kind::Object: return "an object";
    }
    return "?";
}

std::string dims_text(const Dims& dims) {
    std::string out;
    for (std::size_t d : dims) out += '[' + std::to_string(d) + ']';
    return out;
}

// A value with the pointer to where it sits in the document.
struct Node {
    const Json* value;
    std::string pointer;

    Node at(std::size_t i) const { return {&value->as_array()[i], pointer_child(pointer, i)}; }

    std::optional<Node> find(std::string_view key) const {
        const Json* member = value->find(key);
        if (member == nullptr) return std::nullopt;
        return Node{member, pointer_child(pointer, key)};
    }

    // FORMAT.md §5: RTNeural reads these keys with `.at` and throws when they are absent.
    Node require(std::string_view key, const std::string& why) const {
        auto member = find(key);
        if (!member) fail(pointer_child(pointer, key), "missing required key '" + std::string(key) + "'" + why,
                          "key '" + std::string(key) + "'", "absent");
        return *member;
    }
};

const Json::Array& array_of(const Node& n, const std::string& what) {
    if (!n.value->is_array()) fail(n.pointer, what + " must be an array", "an array", describe(*n.value));
    return n.value->as_array();
}

const std::string& string_of(const Node& n, const std::string& what) {
    if (!n.value->is_string()) fail(n.pointer, what + " must be a string", "a string", describe(*n.value));
    return n.value->as_string();
}

double finite_number_of(const Node& n, const std::string& what) {
    if (!n.value->is_number() || !std::isfinite(n.value->as_number()))
        fail(n.pointer, what + " must be a finite number", "a finite number", describe(*n.value));
    return n.value->as_number();
}

// A declared size: a whole number from 1 to kMaxDeclaredSize (RTNeural would truncate 2.5, wrap a
// negative one, or try to allocate 10^9 units).
std::size_t count_of(const Node& n, const std::string& what) {
    const std::string expected = "an integer from 1 to " + std::to_string(kMaxDeclaredSize);
    if (!n.value->is_number()) fail(n.pointer, what + " must be a positive integer", expected, describe(*n.value));
    const double x = n.value->as_number();
    if (!(x >= 1) || x != std::floor(x)) fail(n.pointer, what + " must be a positive integer", expected, describe(*n.value));
    if (x > static_cast<double>(kMaxDeclaredSize))
        fail(n.pointer, what + " exceeds the engine's size limit", expected, describe(*n.value));
    return static_cast<std::size_t>(x);
}

// FORMAT.md §2.3: kernel_size, dilation and the conv2d sizes are read as "last element", so a plain number
// and a list (Keras writes one-element tuples) both work.
std::size_t last_count_of(const Node& n, const std::string& what) {
    if (!n.value->is_array()) return count_of(n, what);
    const auto& items = n.value->as_array();
    if (items.empty()) fail(n.pointer, what + " must not be an empty list", "a positive integer or a list ending in one", "[]");
    return count_of(n.at(items.size() - 1), what);
}

// FORMAT.md §2.1/§2.2: a width is the last entry of a shape, or entries 2 x 3 when the shape has 4.
struct Width {
    std::size_t value;
    std::string pointer;
};

Width width_of(const Node& shape, const std::string& what) {
    const auto& entries = array_of(shape, what);
    if (entries.empty()) fail(shape.pointer, what + " must not be empty", "a list ending in the width", "[]");
    if (entries.size() == 4) {
        const std::size_t features = count_of(shape.at(2), what + " entry 2 (features)");
        const std::size_t channels = count_of(shape.at(3), what + " entry 3 (channels)");
        if (features * channels > kMaxDeclaredSize)
            fail(shape.pointer, what + " describes a frame wider than the engine's size limit",
                 "at most " + std::to_string(kMaxDeclaredSize) + " values", std::to_string(features * channels));
        return {features * channels, shape.pointer};
    }
    const Node last = shape.at(entries.size() - 1);
    return {count_of(last, what + "'s last entry (the width)"), last.pointer};
}

// The outer dimensions of a nested list, following first elements (at most `max_rank` of them).
Dims outer_dims(const Json& v, std::size_t max_rank) {
    Dims dims;
    const Json* node = &v;
    while (node->is_array() && dims.size() < max_rank) {
        dims.push_back(node->as_array().size());
        if (node->as_array().empty()) break;
        node = &node->as_array()[0];
    }
    return dims;
}

std::string pointer_at(const std::string& base, const Dims& index, std::size_t depth) {
    std::string p = base;
    for (std::size_t i = 0; i < depth; ++i) p = pointer_child(p, index[i]);
    return p;
}

// Checks that `v` is a rectangular array of exactly `expected` dims with finite numbers at the leaves and
// appends the leaves in row-major (JSON) order. Recursion depth is the rank, at most 4.
void flatten(const Json& v, const Dims& expected, std::size_t depth, Dims& index, const std::string& base,
             std::vector<double>& out) {
    if (depth == expected.size()) {
        if (!v.is_number() || !std::isfinite(v.as_number()))
            fail(pointer_at(base, index, depth), "weights must be finite numbers", "a finite number", describe(v));
        out.push_back(v.as_number());
        return;
    }
    if (!v.is_array() || v.as_array().size() != expected[depth]) {
        const std::string found = v.is_array() ? std::to_string(v.as_array().size()) + " entries" : describe(v);
        fail(pointer_at(base, index, depth), "weight array is not rectangular",
             "an array of " + std::to_string(expected[depth]), found);
    }
    const auto& items = v.as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
        index[depth] = i;
        flatten(items[i], expected, depth + 1, index, base, out);
    }
}

// `what` names the array ("lstm kernel"); `layout` says what it must be ("[in][4 x units]").
std::vector<double> read_tensor(const Node& n, const Dims& expected, const std::string& what, const std::string& layout) {
    const Dims found = outer_dims(*n.value, expected.size() + 1);
    if (found != expected) {
        std::string found_text = found.empty() ? describe(*n.value) : dims_text(found);
        if (found.size() > expected.size()) found_text += "...";
        fail(n.pointer, what + " has the wrong shape: it must be " + layout, dims_text(expected), found_text);
    }
    std::size_t total = 1;
    for (std::size_t d : expected) total *= d;
    std::vector<double> out;
    out.reserve(total);
    Dims index(expected.size(), 0);
    flatten(*n.value, expected, 0, index, n.pointer, out);
    return out;
}

enum class LayerKind { Dense, Conv1D, Conv2D, GRU, LSTM, PReLU, BatchNorm, Activation };

// One JSON entry, checked, in format-independent terms; `add_layer` turns it into engine layers.
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

const char* const kLayerTypes =
    "one of dense, time-distributed-dense, conv1d, conv2d, gru, lstm, prelu, batchnorm, batchnorm2d, activation";

class Parser {
public:
    ParsedModel parse(const Json& document) {
        const Node root{&document, ""};
        if (!document.is_object()) fail("", "a keras-json model must be a JSON object", "an object", describe(document));
        const Node in_shape = root.require("in_shape", " (the model's input shape)");
        const Width input = width_of(in_shape, "in_shape");
        width_ = input.value;
        width_pointer_ = input.pointer;
        result_.in_size = input.value;

        const Node layers = root.require("layers", " (the list of layer entries)");
        const auto& entries = array_of(layers, "layers");
        // FORMAT.md §2.1: an empty model loads in RTNeural and crashes on its first forward().
        if (entries.empty()) fail(layers.pointer, "a model needs at least one layer", "a non-empty array", "[]");
        for (std::size_t i = 0; i < entries.size(); ++i) {
            layer(layers.at(i), i);
            first_ = false;
        }
        bool computes = false;
        for (const auto& spec : result_.specs) computes |= spec.kind != LayerKind::Activation || spec.activation.has_value();
        if (!computes)
            fail(layers.pointer, "a model needs at least one layer that computes something (RTNeural's forward() "
                                 "crashes on a model without layers)",
                 "at least one layer besides identity activations", "only identity activation entries");
        return std::move(result_);
    }

private:
    void layer(const Node& entry, std::size_t index) {
        if (!entry.value->is_object()) fail(entry.pointer, "a layer entry must be an object", "an object", describe(*entry.value));
        // FORMAT.md §2.2: type, shape and weights are read for every entry, whatever its type.
        const Node type_node = entry.require("type", "");
        const std::string& type = string_of(type_node, "type");
        const Node shape = entry.require("shape", " (the layer's output shape)");
        array_of(shape, "shape");
        const Node weights = entry.require("weights", " (use [] for a layer without weights)");
        array_of(weights, "weights");
        const std::string activation = activation_text(entry);

        const std::size_t in = width_;
        LayerSpec spec;
        if (type == "dense" || type == "time-distributed-dense") spec = dense(shape, weights);
        else if (type == "conv1d") spec = conv1d(entry, shape, weights);
        else if (type == "conv2d") spec = conv2d(entry, shape, weights);
        else if (type == "gru") spec = recurrent(shape, weights, 3, "gru");
        else if (type == "lstm") spec = recurrent(shape, weights, 4, "lstm");
        else if (type == "prelu") spec = prelu(shape, weights);
        else if (type == "batchnorm") spec = batchnorm(entry, shape, weights, false);
        else if (type == "batchnorm2d") spec = batchnorm(entry, shape, weights, true);
        else if (type == "activation") spec = activation_layer(entry, shape, weights);
        else fail(type_node.pointer, "unknown layer type " + quoted(type) + " (RTNeural silently drops it)", kLayerTypes, quoted(type));

        // FORMAT.md §2.3: the entry's activation is applied after dense, conv1d and conv2d only.
        const bool applied = type == "dense" || type == "time-distributed-dense" || type == "conv1d" || type == "conv2d";
        if (applied) spec.activation = resolve_activation(entry, activation);
        // Keras writes "tanh" on every recurrent layer, and tanh is what RTNeural's fixed gates use anyway:
        // only another name deserves a warning (validate draws the same line, RTN-W001).
        else if (type != "activation" && !activation.empty() &&
                 !((type == "lstm" || type == "gru") && activation == "tanh"))
            warn(pointer_child(entry.pointer, "activation"),
                 "activation " + quoted(activation) + " is ignored by RTNeural on a " + type +
                     " layer; add a separate activation entry to apply it");

        spec.in = in;
        width_ = spec.out;
        result_.infos.push_back({index, type, in, spec.out, activation, entry.pointer});
        result_.specs.push_back(std::move(spec));
    }

    // FORMAT.md §2.2: optional, but when present it must be a string (null throws in RTNeural).
    static std::string activation_text(const Node& entry) {
        const auto node = entry.find("activation");
        return node ? string_of(*node, "activation") : std::string();
    }

    // FORMAT.md §4: exactly tanh relu sigmoid softmax elu, or "" for none; RTNeural crashes on any other name.
    static std::optional<ActivationKind> resolve_activation(const Node& entry, const std::string& name) {
        if (name.empty()) return std::nullopt;
        if (auto kind = activation_from_name(name)) return kind;
        std::string hint;
        if (name == "linear" || name == "identity" || name == "none") hint = "; write \"\" for no activation";
        else if (activation_from_name(lower(name))) hint = "; names are lower case";
        fail(pointer_child(entry.pointer, "activation"),
             "unknown activation " + quoted(name) + " (RTNeural crashes while loading it)" + hint,
             "one of tanh, relu, sigmoid, softmax, elu or \"\"", quoted(name));
    }

    static std::string lower(std::string s) {
        for (char& c : s)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        return s;
    }

    // The width a layer's weights say it takes differs from what arrives. For the first layer the input
    // is in_shape, which RTNeural never checks (FORMAT.md §11.15), so in_shape is the place to fix.
    void expect_input(std::size_t wanted, const std::string& place, const std::string& what) const {
        if (wanted == width_) return;
        if (first_)
            fail(width_pointer_, "in_shape does not match the first layer's input width",
                 std::to_string(wanted) + " (" + what + " at " + place + ")", std::to_string(width_));
        fail(place, what + " does not match the previous layer's output width", std::to_string(width_),
             std::to_string(wanted));
    }

    // Width-preserving layers (prelu, batchnorm, activation) take the previous width; their `shape` must
    // say the same, or the next layer would read a buffer of another size.
    void expect_same_width(const Node& shape) const {
        const Width w = width_of(shape, "shape");
        expect_input(w.value, w.pointer, "the declared shape");
    }

    static void expect_array_count(const Node& weights, std::size_t min, std::size_t max, const std::string& layout) {
        const std::size_t n = weights.value->as_array().size();
        const std::string found = std::to_string(n) + (n == 1 ? " array" : " arrays");
        if (n < min) fail(pointer_child(weights.pointer, n), "missing weight array", layout, found);
        if (n > max) fail(pointer_child(weights.pointer, max), "unexpected extra weight array", layout, found);
    }

    // Columns of a 2-D array, when it is one (for the input-width check before the full shape check).
    static std::optional<std::pair<std::size_t, std::size_t>> matrix_dims(const Node& n) {
        const Dims d = outer_dims(*n.value, 3);
        if (d.size() != 2) return std::nullopt;
        return std::make_pair(d[0], d[1]);
    }

    LayerSpec dense(const Node& shape, const Node& weights) {
        LayerSpec spec;
        spec.kind = LayerKind::Dense;
        spec.out = width_of(shape, "shape").value;
        expect_array_count(weights, 1, 2, "[kernel] or [kernel, bias]");
        const Node kernel = weights.at(0);
        if (auto d = matrix_dims(kernel); d && d->second == spec.out) expect_input(d->first, kernel.pointer, "the kernel's row count");
        // FORMAT.md §2.3: [in][out]; RTNeural throws on a wider kernel and zero-fills a narrower one.
        spec.arrays.push_back(read_tensor(kernel, {width_, spec.out}, "dense kernel",
                                          "[in][out] (a PyTorch weight is [out][in] and must be transposed)"));
        if (weights.value->as_array().size() == 2)
            spec.arrays.push_back(read_tensor(weights.at(1), {spec.out}, "dense bias", "[out]"));
        else
            warn(weights.pointer, "dense layer without a bias array: RTNeural uses a zero bias");
        return spec;
    }

    LayerSpec recurrent(const Node& shape, const Node& weights, std::size_t gates, const char* type) {
        LayerSpec spec;
        spec.kind = gates == 3 ? LayerKind::GRU : LayerKind::LSTM;
        const std::size_t units = width_of(shape, "shape").value;
        spec.out = units;
        const std::string t = type;
        const std::string g = std::to_string(gates);
        expect_array_count(weights, 3, 3, "[kernel, recurrent kernel, bias]");
        const Node kernel = weights.at(0);
        if (auto d = matrix_dims(kernel); d && d->second == gates * units) expect_input(d->first, kernel.pointer, "the kernel's row count");
        // FORMAT.md §2.3: RTNeural throws on wider weights and reads past the end of narrower ones.
        spec.arrays.push_back(read_tensor(kernel, {width_, gates * units}, t + " kernel",
                                          "[in][" + g + " x units] with units = " + std::to_string(units) + " from shape"));
        spec.arrays.push_back(read_tensor(weights.at(1), {units, gates * units}, t + " recurrent kernel",
                                          "[units][" + g + " x units] with units = " + std::to_string(units)));
        if (gates == 3) {
            const Node bias = weights.at(2);
            const Dims found = outer_dims(*bias.value, 2);
            const std::string layout = found.size() == 1
                ? "two rows [input bias, recurrent bias] (Keras reset_after=True); a flat bias (reset_after=False) "
                  "is not supported by RTNeural"
                : "[2][3 x units]: the input bias row, then the recurrent bias row";
            spec.arrays.push_back(read_tensor(bias, {2, gates * units}, "gru bias", layout));
        } else {
            spec.arrays.push_back(read_tensor(weights.at(2), {gates * units}, "lstm bias",
                                              "one vector of 4 x units (PyTorch's two biases summed)"));
        }
        return spec;
    }

    LayerSpec conv1d(const Node& entry, const Node& shape, const Node& weights) {
        LayerSpec spec;
        spec.kind = LayerKind::Conv1D;
        spec.out = width_of(shape, "shape").value;
        spec.kernel_size = last_count_of(entry.require("kernel_size", ""), "kernel_size");
        const Node dilation = entry.require("dilation", "");
        spec.dilation = last_count_of(dilation, "dilation");
        const auto groups = entry.find("groups");
        spec.groups = groups ? count_of(*groups, "groups") : 1;
        expect_array_count(weights, 2, 2, "[kernel, bias] (RTNeural requires the bias; write zeros for none)");
        const Node kernel = weights.at(0);
        const Dims d = outer_dims(*kernel.value, 3);
        const bool outer_fits = d.size() == 3 && d[0] == spec.kernel_size && d[2] == spec.out;
        // FORMAT.md §2.3: without `groups` RTNeural builds one group and leaves the other channels' weights
        // at zero, silently; the kernel's middle axis (in/groups) tells what was meant.
        if (!groups && outer_fits && d[1] != width_ && d[1] > 0 && width_ % d[1] == 0)
            fail(pointer_child(entry.pointer, "groups"),
                 "missing 'groups': the kernel's middle axis is " + std::to_string(d[1]) + " = in/groups, so groups "
                 "must be " + std::to_string(width_ / d[1]) + " (RTNeural would use 1 and compute something else)",
                 "groups = " + std::to_string(width_ / d[1]), "absent (defaults to 1)");
        if (groups && (width_ % spec.groups != 0 || spec.out % spec.groups != 0))
            fail(groups->pointer, "groups must divide both the input width and the output width",
                 "a divisor of " + std::to_string(width_) + " and " + std::to_string(spec.out), std::to_string(spec.groups));
        if (outer_fits) expect_input(d[1] * spec.groups, kernel.pointer, "the kernel's middle axis x groups");
        spec.arrays.push_back(read_tensor(kernel, {spec.kernel_size, width_ / spec.groups, spec.out}, "conv1d kernel",
                                          "[kernel_size][in/groups][out]"));
        spec.arrays.push_back(read_tensor(weights.at(1), {spec.out}, "conv1d bias", "[out]"));
        const std::uint64_t history = (std::uint64_t(spec.kernel_size) - 1) * spec.dilation + 1;
        if (history * width_ > kMaxHistoryValues)
            fail(dilation.pointer, "the convolution's history ((kernel_size - 1) x dilation + 1 steps) exceeds the engine's limit",
                 "at most " + std::to_string(kMaxHistoryValues) + " values", std::to_string(history * width_));
        return spec;
    }

    LayerSpec conv2d(const Node& entry, const Node& shape, const Node& weights) {
        LayerSpec spec;
        spec.kind = LayerKind::Conv2D;
        Conv2DGeometry& g = spec.conv2d;
        // FORMAT.md §2.3: all required; read as "last element".
        g.kernel_time = last_count_of(entry.require("kernel_size_time", ""), "kernel_size_time");
        const Node kernel_feature = entry.require("kernel_size_feature", "");
        g.kernel_feature = last_count_of(kernel_feature, "kernel_size_feature");
        const Node dilation = entry.require("dilation", "");
        g.dilation = last_count_of(dilation, "dilation");
        g.stride = last_count_of(entry.require("strides", ""), "strides");
        g.channels_in = last_count_of(entry.require("num_filters_in", ""), "num_filters_in");
        const Node features_in = entry.require("num_features_in", "");
        g.features_in = last_count_of(features_in, "num_features_in");
        g.channels_out = last_count_of(entry.require("num_filters_out", ""), "num_filters_out");
        const Node padding = entry.require("padding", "");
        const std::string& mode = string_of(padding, "padding");
        // RTNeural treats every string but "valid" as same; anything but the two Keras names is a typo
        // that would be misread.
        if (mode != "valid" && mode != "same")
            fail(padding.pointer, "padding must be \"valid\" or \"same\"", "\"valid\" or \"same\"", quoted(mode));
        g.same_padding = mode == "same";
        if (std::uint64_t(g.features_in) * g.channels_in > kMaxDeclaredSize)
            fail(features_in.pointer, "num_features_in x num_filters_in exceeds the engine's size limit",
                 "at most " + std::to_string(kMaxDeclaredSize), std::to_string(std::uint64_t(g.features_in) * g.channels_in));
        expect_input(g.features_in * g.channels_in, features_in.pointer, "num_features_in x num_filters_in");
        const std::size_t features_out = g.features_out();
        if (features_out == 0)
            fail(kernel_feature.pointer, "kernel_size_feature is larger than the frame with valid padding",
                 "at most " + std::to_string(g.features_in), std::to_string(g.kernel_feature));
        expect_array_count(weights, 2, 2, "[kernel, bias]");
        spec.arrays.push_back(read_tensor(weights.at(0), {g.kernel_time, g.kernel_feature, g.channels_in, g.channels_out}, "conv2d kernel",
                                          "[kernel_size_time][kernel_size_feature][num_filters_in][num_filters_out]"));
        spec.arrays.push_back(read_tensor(weights.at(1), {g.channels_out}, "conv2d bias", "[num_filters_out]"));
        // FORMAT.md §2.3: the one size RTNeural checks (it returns null on a mismatch).
        const std::string computed = "computed from the input, kernel, strides and padding";
        if (shape.value->as_array().size() == 4) {
            if (count_of(shape.at(2), "shape entry 2 (features)") != features_out)
                fail(shape.at(2).pointer, "conv2d shape does not match the output features " + computed,
                     std::to_string(features_out), describe(*shape.at(2).value));
            if (count_of(shape.at(3), "shape entry 3 (channels)") != g.channels_out)
                fail(shape.at(3).pointer, "conv2d shape does not match num_filters_out",
                     std::to_string(g.channels_out), describe(*shape.at(3).value));
        } else {
            const Width w = width_of(shape, "shape");
            if (w.value != features_out * g.channels_out)
                fail(w.pointer, "conv2d shape does not match the output width " + computed,
                     std::to_string(features_out * g.channels_out), std::to_string(w.value));
        }
        spec.out = features_out * g.channels_out;
        const std::uint64_t history = std::uint64_t(g.receptive_field()) * g.features_in * g.channels_in;
        if (history > kMaxHistoryValues)
            fail(dilation.pointer, "the convolution's history (receptive field x frame width) exceeds the engine's limit",
                 "at most " + std::to_string(kMaxHistoryValues) + " values", std::to_string(history));
        return spec;
    }

    LayerSpec batchnorm(const Node& entry, const Node& shape, const Node& weights, bool two_d) {
        LayerSpec spec;
        spec.kind = LayerKind::BatchNorm;
        spec.epsilon = finite_number_of(entry.require("epsilon", ""), "epsilon");
        if (spec.epsilon < 0)
            fail(pointer_child(entry.pointer, "epsilon"), "epsilon must not be negative", "a number >= 0",
                 number_text(spec.epsilon));
        std::size_t channels = width_;
        if (two_d) {
            // FORMAT.md §2.3 batchnorm2d: plain integers; parameters per channel, applied to every feature.
            channels = count_of(entry.require("num_filters_in", ""), "num_filters_in");
            const Node features = entry.require("num_features_in", "");
            spec.features = count_of(features, "num_features_in");
            if (std::uint64_t(channels) * spec.features > kMaxDeclaredSize)
                fail(features.pointer, "num_features_in x num_filters_in exceeds the engine's size limit",
                     "at most " + std::to_string(kMaxDeclaredSize), std::to_string(std::uint64_t(channels) * spec.features));
            expect_input(channels * spec.features, features.pointer, "num_features_in x num_filters_in");
        }
        // FORMAT.md §2.3: 4 arrays are [gamma, beta, mean, variance]; 2 are [mean, variance]; RTNeural reads
        // any other count as the 2-array form, which misreads Keras's 3-array (center or scale only) output.
        const std::size_t count = weights.value->as_array().size();
        if (count != 2 && count != 4)
            fail(weights.pointer, "batchnorm takes 4 arrays [gamma, beta, mean, variance] or 2 [mean, variance]",
                 "2 or 4 arrays", std::to_string(count) + (count == 1 ? " array" : " arrays"));
        if (!two_d) {
            const Dims d = outer_dims(*weights.at(0).value, 2);
            if (d.size() == 1) expect_input(d[0], weights.at(0).pointer, "the parameter length");
        }
        expect_same_width(shape);
        for (std::size_t i = 0; i < count; ++i)
            spec.arrays.push_back(read_tensor(weights.at(i), {channels}, "batchnorm parameter array", "one value per channel"));
        const std::vector<double>& variance = spec.arrays.back();
        for (std::size_t c = 0; c < channels; ++c)
            if (!(variance[c] + spec.epsilon > 0))
                fail(pointer_child(weights.at(count - 1).pointer, c), "variance + epsilon must be positive",
                     "variance + epsilon > 0", "variance " + number_text(variance[c]) + " with epsilon " + number_text(spec.epsilon));
        spec.out = width_;
        return spec;
    }

    LayerSpec prelu(const Node& shape, const Node& weights) {
        LayerSpec spec;
        spec.kind = LayerKind::PReLU;
        expect_array_count(weights, 1, 1, "[[alpha, ...]] (one row of alphas, or one shared alpha)");
        const Node alpha = weights.at(0);
        // FORMAT.md §2.3: RTNeural reads weights[0][0] only; one alpha is broadcast to every channel.
        const auto d = matrix_dims(alpha);
        if (d && d->first == 1 && d->second != 1) expect_input(d->second, alpha.pointer, "the number of alphas");
        // FORMAT.md §2.3: a prelu's shape is read but not used (its width is the previous layer's), so a
        // mismatch computes correctly in RTNeural: worth a warning, not a refusal.
        const Width declared = width_of(shape, "shape");
        if (declared.value != width_)
            warn(declared.pointer, "prelu shape says " + std::to_string(declared.value) + " but " +
                                       std::to_string(width_) + " channels arrive; RTNeural ignores a prelu's shape");
        const std::size_t n = d && d->second == 1 ? 1 : width_;
        spec.arrays.push_back(read_tensor(alpha, {1, n}, "prelu alpha",
                                          "one row [[alpha per channel]] or [[shared alpha]] (RTNeural reads only the first row)"));
        spec.out = width_;
        return spec;
    }

    LayerSpec activation_layer(const Node& entry, const Node& shape, const Node& weights) {
        LayerSpec spec;
        spec.kind = LayerKind::Activation;
        const std::string name = activation_text(entry);
        if (!entry.find("activation"))
            warn(entry.pointer, "activation layer without an activation key does nothing (RTNeural adds no layer)");
        else if (name.empty())
            warn(pointer_child(entry.pointer, "activation"), "activation layer with activation \"\" does nothing (RTNeural adds no layer)");
        spec.activation = resolve_activation(entry, name);
        if (!weights.value->as_array().empty()) warn(weights.pointer, "weights of an activation layer are ignored");
        expect_same_width(shape);
        spec.out = width_;
        return spec;
    }

    void warn(std::string pointer, std::string message) { result_.warnings.push_back({std::move(pointer), std::move(message)}); }

    ParsedModel result_;
    std::size_t width_ = 0;      // the width arriving at the current entry
    std::string width_pointer_;  // where in_shape declares the model's input width
    bool first_ = true;
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
LoadedModel<T> load_keras_json(const Json& document) {
    ParsedModel parsed = Parser().parse(document);
    LoadedModel<T> loaded{Model<T>(parsed.in_size), std::move(parsed.infos), std::move(parsed.warnings), {}};
    for (const LayerSpec& spec : parsed.specs) {
        add_layer(loaded.model, spec);
        loaded.entry_outputs.push_back(static_cast<std::ptrdiff_t>(loaded.model.layer_count()) - 1);
    }
    return loaded;
}

template LoadedModel<float> load_keras_json<float>(const Json&);
template LoadedModel<double> load_keras_json<double>(const Json&);

}  // namespace rtv
