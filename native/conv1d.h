// Causal streaming 1-D convolution (docs/format.md §9 conv1d): stride 1, dilation d, groups g; at step t
//   y_o[t] = b_o + sum_k sum_{c in group(o)} Wjson[k][c][o] * x_c[t - (K-1-k) d],
// so Wjson[K-1] meets the newest input, and inputs before the last reset() are zero.
//
// Each step gathers the K delayed input vectors of a group side by side, [x(t - (K-1) d); ...; x(t)], so
// that the group's K taps are one matrix-vector product whose column k * (in/g) + c is Wjson[k][c] — the
// JSON kernel's own row order. Every weight is read once per step, in one pass per group.
#pragma once

#include <vector>

#include "aligned_buffer.h"
#include "kernels.h"
#include "layer.h"
#include "packed_matrix.h"

namespace rtv {

template <typename T>
class Conv1D final : public Layer<T> {
public:
    // `kernel` is the JSON array flattened: [K][in/groups][out]; `bias` holds `out` values.
    Conv1D(std::size_t in, std::size_t out, std::size_t kernel_size, std::size_t dilation, std::size_t groups,
           const std::vector<double>& kernel, const std::vector<double>& bias)
        : in_(in), out_(out), kernel_size_(kernel_size), dilation_(dilation), groups_(groups),
          group_in_(in / groups), group_out_(out / groups), history_length_((kernel_size - 1) * dilation + 1),
          bias_(out), history_(history_length_ * in), taps_(kernel_size * group_in_) {
        for (std::size_t g = 0; g < groups; ++g)
            weights_.emplace_back(group_out_, kernel_size * group_in_, [&](std::size_t o, std::size_t column) {
                return kernel[column * out + g * group_out_ + o];
            });
        for (std::size_t o = 0; o < out; ++o) bias_[o] = static_cast<T>(bias[o]);
    }

    std::size_t in_size() const noexcept override { return in_; }
    std::size_t out_size() const noexcept override { return out_; }

    void reset() noexcept override {
        history_.zero();
        newest_ = 0;
    }

    void forward(const T* in, T* out) noexcept override {
        // Ring buffer of the last (K-1) d + 1 input vectors; slot `newest_` holds x[t].
        newest_ = (newest_ + 1) % history_length_;
        kernels::copy(history_.data() + newest_ * in_, in, in_);
        for (std::size_t g = 0; g < groups_; ++g) {
            for (std::size_t k = 0; k < kernel_size_; ++k) {
                const std::size_t lag = (kernel_size_ - 1 - k) * dilation_;
                const T* x = history_.data() + ((newest_ + history_length_ - lag) % history_length_) * in_;
                kernels::copy(taps_.data() + k * group_in_, x + g * group_in_, group_in_);
            }
            weights_[g].apply(out + g * group_out_, bias_.data() + g * group_out_, taps_.data());
        }
    }

    std::size_t bytes_held() const noexcept override {
        std::size_t total = bias_.bytes() + history_.bytes() + taps_.bytes();
        for (const auto& w : weights_) total += w.bytes();
        return total;
    }
    std::size_t param_count() const noexcept override { return kernel_size_ * group_in_ * out_ + out_; }

private:
    std::size_t in_, out_, kernel_size_, dilation_, groups_, group_in_, group_out_, history_length_;
    std::vector<PackedMatrix<T>> weights_;  // one per group: [out/g] x [K * in/g]
    AlignedBuffer<T> bias_;
    AlignedBuffer<T> history_;  // state
    AlignedBuffer<T> taps_;     // scratch: one group's K delayed inputs, side by side
    std::size_t newest_ = 0;
};

}  // namespace rtv
