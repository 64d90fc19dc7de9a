// keras-json -> Model<T>. Every check RTNeural's parseJson lacks is made here, so that a file RTNeural would
// refuse, crash on, or silently misread (docs/format.md §13, §15) is refused with the rule id of the catalogue, the
// JSON pointer of the offending place and what was expected there -- the same rule and place as the first
// error `verifier.validate` reports. Nothing is allocated from a declared size before every declared size
// of the file has been checked against the limits (Limits), and weight arrays grow only with the numbers
// actually read.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "json_value.h"
#include "model.h"
#include "rules.h"

namespace rtv {

// The limits of verifier.format.findings.Limits (their one definition; the binding takes them on every
// load, so the engine has no defaults of its own).
struct Limits {
    std::size_t max_layer_width;       // a declared width or convolution size key
    std::size_t max_total_parameters;  // weights implied by the declared sizes
    std::size_t max_state_values;      // values held besides the weights: outputs, state, history
    std::size_t max_depth;             // JSON nesting (the binding's document conversion)
};

struct FormatError : std::runtime_error {
    FormatError(const char* rule_, std::string pointer_, const std::string& message, std::string expected_ = {},
                std::string found_ = {})
        : std::runtime_error(message), rule(rule_), pointer(std::move(pointer_)), expected(std::move(expected_)),
          found(std::move(found_)) {}
    const char* rule;      // an id of rules.h
    std::string pointer;   // RFC 6901 JSON pointer; "" is the whole document
    std::string expected;  // empty when the error is not a mismatch
    std::string found;
};

struct Warning {
    const char* rule;
    std::string pointer;
    std::string message;
};

struct LayerInfo {
    std::size_t index;       // position in the JSON `layers` list
    std::string type;        // as written
    std::size_t in_size;
    std::size_t out_size;
    std::string activation;  // as written ("" when absent)
    std::string pointer;     // "/layers/<index>"
};

template <typename T>
struct LoadedModel {
    Model<T> model;
    std::vector<LayerInfo> layers;
    std::vector<Warning> warnings;
    // Per JSON layer entry: the engine layer whose output is that entry's output, or -1 for the model
    // input (an identity `activation` entry ahead of every computing layer).
    std::vector<std::ptrdiff_t> entry_outputs;
};

// Throws FormatError for any document the engine refuses.
template <typename T>
LoadedModel<T> load_keras_json(const Json& document, const Limits& limits);

extern template LoadedModel<float> load_keras_json<float>(const Json&, const Limits&);
extern template LoadedModel<double> load_keras_json<double>(const Json&, const Limits&);

}  // namespace rtv
