// keras-json -> Model<T>. Every check RTNeural's parseJson lacks is made here, before anything is
// allocated, so that a file RTNeural would refuse, crash on, or silently misread (FORMAT.md §5, §11) is
// refused with the JSON pointer of the offending place and what was expected there.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "json_value.h"
#include "model.h"

namespace rtv {

// Declared sizes (units, widths, kernel sizes, dilations, ...) above this are refused before allocating.
constexpr std::size_t kMaxDeclaredSize = std::size_t(1) << 20;
// A convolution keeps (K - 1) d + 1 past inputs; more values than this are refused.
constexpr std::size_t kMaxHistoryValues = std::size_t(1) << 24;

struct FormatError : std::runtime_error {
    FormatError(std::string pointer_, const std::string& message, std::string expected_ = {}, std::string found_ = {})
        : std::runtime_error(message), pointer(std::move(pointer_)), expected(std::move(expected_)),
          found(std::move(found_)) {}
    std::string pointer;   // RFC 6901 JSON pointer; "" is the whole document
    std::string expected;  // empty when the error is not a mismatch
    std::string found;
};

struct Warning {
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

// Throws FormatError for any document the engine refuses; std::bad_alloc is the only other exception.
template <typename T>
LoadedModel<T> load_keras_json(const Json& document);

extern template LoadedModel<float> load_keras_json<float>(const Json&);
extern template LoadedModel<double> load_keras_json<double>(const Json&);

}  // namespace rtv
