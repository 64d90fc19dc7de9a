// Fully connected layer: y = W x + b (docs/format.md §6 dense / time-distributed-dense).
#pragma once

#include <vector>

#include "aligned_buffer.h"
#include "layer.h"
#include "packed_matrix.h"

namespace rtv {

template <typename T>
class Dense final : public Layer<T> {
public:
    // `kernel` is the JSON array flattened: [in][out] (Keras orientation). `bias` holds `out` values, or is
    // empty for a bias-free entry, which RTNeural runs with a zero bias.
    Dense(std::size_t in, std::size_t out, const std::vector<double>& kernel, const std::vector<double>& bias)
        : in_(in), out_(out), has_bias_(!bias.empty()),
          weights_(out, in, [&](std::size_t o, std::size_t i) { return kernel[i * out + o]; }), bias_(out) {
        for (std::size_t o = 0; o < bias.size(); ++o) bias_[o] = static_cast<T>(bias[o]);
    }

    std::size_t in_size() const noexcept override { return in_; }
    std::size_t out_size() const noexcept override { return out_; }

    void forward(const T* in, T* out) noexcept override { weights_.apply(out, bias_.data(), in); }

    std::size_t bytes_held() const noexcept override { return weights_.bytes() + bias_.bytes(); }
    std::size_t param_count() const noexcept override { return in_ * out_ + (has_bias_ ? out_ : 0); }

private:
    std::size_t in_, out_;
    bool has_bias_;
    PackedMatrix<T> weights_;  // W[o][i] = kernel[i][o]
    AlignedBuffer<T> bias_;
};

}  // namespace rtv
