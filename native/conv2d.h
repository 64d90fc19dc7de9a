// 2-D convolution streamed over time, one frame per step (docs/format.md §10 conv2d).
//
// Frames are feature-major, channel-minor (element f * C + c). Along features the convolution is valid or
// TensorFlow-style same with a stride; along time it is causal-valid with dilation d: with receptive field
// rf = 1 + (K_time - 1) d, the output of frame t is sum_i W[i] * x[t - (rf - 1) + i d] (kernel row 0 meets
// the oldest frame), frames before the last reset() being zero.
#pragma once

#include <cstddef>
#include <vector>

#include "aligned_buffer.h"
#include "kernels.h"
#include "layer.h"

namespace rtv {

struct Conv2DGeometry {
    std::size_t features_in = 0, channels_in = 0, channels_out = 0;
    std::size_t kernel_time = 1, kernel_feature = 1, dilation = 1, stride = 1;
    bool same_padding = false;

    // Valid: ceil((F_in - K_f + 1) / stride) (0 when the kernel is wider than the frame); same:
    // ceil(F_in / stride).
    std::size_t features_out() const noexcept {
        if (same_padding) return (features_in + stride - 1) / stride;
        if (features_in < kernel_feature) return 0;
        return (features_in - kernel_feature + stride) / stride;
    }

    // TensorFlow's same padding puts floor(total / 2) zeros on the left.
    std::size_t pad_left() const noexcept {
        if (!same_padding) return 0;
        const std::size_t rest = features_in % stride;
        const std::size_t covered = rest == 0 ? stride : rest;
        return kernel_feature > covered ? (kernel_feature - covered) / 2 : 0;
    }

    // RTNeural's "same" convolution takes the columns whose window starts left of the frame in a run of
    // their own that assumes the window ends inside it; a window overhanging both edges reads past the frame.
    // Windows starting further left end further left, so the last column of that run decides. The C++
    // definition of rule RTN-E207 (the Python one: verifier/format/same_padding.py).
    bool rtneural_reads_outside_frame() const noexcept {
        const std::size_t left = pad_left();
        if (!same_padding || left == 0) return false;
        const std::size_t last_column_start = stride * ((left - 1) / stride);  // + kernel - left: its end
        return last_column_start + kernel_feature > features_in + left;
    }

    std::size_t receptive_field() const noexcept { return 1 + (kernel_time - 1) * dilation; }
};

template <typename T>
class Conv2D final : public Layer<T> {
public:
    // `kernel` is the JSON array flattened: [K_time][K_feature][C_in][C_out] (TensorFlow HWIO); `bias`
    // holds C_out values.
    Conv2D(const Conv2DGeometry& geometry, const std::vector<double>& kernel, const std::vector<double>& bias)
        : g_(geometry), features_out_(geometry.features_out()), pad_left_(geometry.pad_left()),
          frame_in_(geometry.features_in * geometry.channels_in),
          weights_(geometry.kernel_time * geometry.kernel_feature * geometry.channels_out * geometry.channels_in),
          bias_(geometry.channels_out), history_(geometry.receptive_field() * frame_in_) {
        const std::size_t cin = g_.channels_in, cout = g_.channels_out;
        // Stored [K_time][K_feature][C_out][C_in]: one (time, feature) tap is a C_out x C_in matrix applied
        // to the C_in contiguous values of one input feature.
        for (std::size_t tap = 0; tap < g_.kernel_time * g_.kernel_feature; ++tap)
            for (std::size_t ci = 0; ci < cin; ++ci)
                for (std::size_t co = 0; co < cout; ++co)
                    weights_[(tap * cout + co) * cin + ci] = static_cast<T>(kernel[(tap * cin + ci) * cout + co]);
        for (std::size_t co = 0; co < cout; ++co) bias_[co] = static_cast<T>(bias[co]);
    }

    std::size_t in_size() const noexcept override { return frame_in_; }
    std::size_t out_size() const noexcept override { return features_out_ * g_.channels_out; }

    void reset() noexcept override {
        history_.zero();
        newest_ = 0;
    }

    void forward(const T* in, T* out) noexcept override {
        const std::size_t rf = g_.receptive_field();
        const std::size_t cin = g_.channels_in, cout = g_.channels_out;
        newest_ = (newest_ + 1) % rf;
        kernels::copy(history_.data() + newest_ * frame_in_, in, frame_in_);
        for (std::size_t fo = 0; fo < features_out_; ++fo) kernels::copy(out + fo * cout, bias_.data(), cout);
        for (std::size_t i = 0; i < g_.kernel_time; ++i) {
            const std::size_t lag = (rf - 1) - i * g_.dilation;
            const T* frame = history_.data() + ((newest_ + rf - lag) % rf) * frame_in_;
            for (std::size_t fo = 0; fo < features_out_; ++fo) {
                for (std::size_t kf = 0; kf < g_.kernel_feature; ++kf) {
                    // Input feature fo * stride + kf - pad_left; outside the frame it is padding (zero).
                    const std::size_t shifted = fo * g_.stride + kf;
                    if (shifted < pad_left_ || shifted - pad_left_ >= g_.features_in) continue;
                    const std::size_t fi = shifted - pad_left_;
                    const T* tap = weights_.data() + (i * g_.kernel_feature + kf) * cout * cin;
                    kernels::matvec_accumulate(out + fo * cout, tap, frame + fi * cin, cout, cin);
                }
            }
        }
    }

    std::size_t bytes_held() const noexcept override {
        return weights_.bytes() + bias_.bytes() + history_.bytes();
    }
    std::size_t param_count() const noexcept override { return weights_.size() + g_.channels_out; }

private:
    Conv2DGeometry g_;
    std::size_t features_out_, pad_left_, frame_in_;
    AlignedBuffer<T> weights_, bias_;
    AlignedBuffer<T> history_;  // state: the last rf input frames
    std::size_t newest_ = 0;
};

}  // namespace rtv
