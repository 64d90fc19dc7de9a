// Element-wise activations and softmax (docs/format.md §4), with exactly RTNeural's formulas.
#pragma once

#include <optional>
#include <string_view>

#include "kernels.h"
#include "layer.h"

namespace rtv {

enum class ActivationKind { Tanh, Relu, Sigmoid, Softmax, Elu };

// The five names RTNeural knows, exact and lower case; anything else is not an activation.
inline std::optional<ActivationKind> activation_from_name(std::string_view name) {
    if (name == "tanh") return ActivationKind::Tanh;
    if (name == "relu") return ActivationKind::Relu;
    if (name == "sigmoid") return ActivationKind::Sigmoid;
    if (name == "softmax") return ActivationKind::Softmax;
    if (name == "elu") return ActivationKind::Elu;
    return std::nullopt;
}

template <typename T>
class Activation final : public Layer<T> {
public:
    Activation(ActivationKind kind, std::size_t size) : kind_(kind), size_(size) {}

    std::size_t in_size() const noexcept override { return size_; }
    std::size_t out_size() const noexcept override { return size_; }

    // The exponential-based functions run the vectorised kernels (error bounds in kernels.cpp).
    void forward(const T* in, T* out) noexcept override {
        switch (kind_) {
            case ActivationKind::Tanh: kernels::tanh(out, in, size_); break;
            case ActivationKind::Relu:
                for (std::size_t i = 0; i < size_; ++i) out[i] = in[i] > T(0) ? in[i] : T(0);
                break;
            case ActivationKind::Sigmoid: kernels::sigmoid(out, in, size_); break;
            // Over the whole step vector and without subtracting the maximum, as RTNeural does: a large
            // input overflows there too, and the engine must show what RTNeural would output.
            case ActivationKind::Softmax: kernels::softmax(out, in, size_); break;
            case ActivationKind::Elu: kernels::elu(out, in, size_); break;  // alpha fixed at 1
        }
    }

    std::size_t bytes_held() const noexcept override { return 0; }
    std::size_t param_count() const noexcept override { return 0; }

private:
    ActivationKind kind_;
    std::size_t size_;
};

}  // namespace rtv
