// Batch normalisation with frozen statistics (docs/format.md §11 batchnorm, batchnorm2d):
//   y = gamma * (x - mean) / sqrt(var + epsilon) + beta, per channel.
// One class serves both: batchnorm has one feature of `channels` values per step; batchnorm2d applies the
// per-channel parameters to every feature of the frame (layout f * C + c).
#pragma once

#include <cmath>
#include <vector>

#include "aligned_buffer.h"
#include "layer.h"

namespace rtv {

template <typename T>
class BatchNorm final : public Layer<T> {
public:
    // `gamma` and `beta` are empty for the 2-array (non-affine) form, meaning gamma 1 and beta 0.
    BatchNorm(std::size_t features, std::size_t channels, const std::vector<double>& gamma,
              const std::vector<double>& beta, const std::vector<double>& mean, const std::vector<double>& variance,
              double epsilon)
        : features_(features), channels_(channels), affine_(!gamma.empty()), scale_(channels), mean_(channels),
          beta_(channels) {
        for (std::size_t c = 0; c < channels; ++c) {
            const double g = affine_ ? gamma[c] : 1.0;
            scale_[c] = static_cast<T>(g / std::sqrt(variance[c] + epsilon));
            mean_[c] = static_cast<T>(mean[c]);
            beta_[c] = static_cast<T>(affine_ ? beta[c] : 0.0);
        }
    }

    std::size_t in_size() const noexcept override { return features_ * channels_; }
    std::size_t out_size() const noexcept override { return features_ * channels_; }

    void forward(const T* in, T* out) noexcept override {
        for (std::size_t f = 0; f < features_; ++f) {
            const std::size_t base = f * channels_;
            for (std::size_t c = 0; c < channels_; ++c)
                out[base + c] = scale_[c] * (in[base + c] - mean_[c]) + beta_[c];
        }
    }

    std::size_t bytes_held() const noexcept override { return scale_.bytes() + mean_.bytes() + beta_.bytes(); }
    std::size_t param_count() const noexcept override { return (affine_ ? 4 : 2) * channels_; }

private:
    std::size_t features_, channels_;
    bool affine_;
    AlignedBuffer<T> scale_, mean_, beta_;
};

}  // namespace rtv
