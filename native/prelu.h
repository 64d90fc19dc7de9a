// Parametric ReLU (docs/format.md §12 prelu): y = x if x >= 0 else alpha * x, one alpha per element.
#pragma once

#include <vector>

#include "aligned_buffer.h"
#include "layer.h"

namespace rtv {

template <typename T>
class PReLU final : public Layer<T> {
public:
    // `alpha` holds `size` values, or one value that RTNeural broadcasts to every element.
    PReLU(std::size_t size, const std::vector<double>& alpha)
        : size_(size), given_(alpha.size()), alpha_(size) {
        for (std::size_t i = 0; i < size; ++i) alpha_[i] = static_cast<T>(alpha[alpha.size() == 1 ? 0 : i]);
    }

    std::size_t in_size() const noexcept override { return size_; }
    std::size_t out_size() const noexcept override { return size_; }

    void forward(const T* in, T* out) noexcept override {
        for (std::size_t i = 0; i < size_; ++i) out[i] = in[i] >= T(0) ? in[i] : alpha_[i] * in[i];
    }

    std::size_t bytes_held() const noexcept override { return alpha_.bytes(); }
    std::size_t param_count() const noexcept override { return given_; }

private:
    std::size_t size_, given_;
    AlignedBuffer<T> alpha_;
};

}  // namespace rtv
