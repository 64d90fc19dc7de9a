// LSTM layer (docs/format.md §7 lstm): gates i, f, c, o in that column order, one bias, no peepholes.
//
// The gates come from one matrix-vector product over [x; h] (kernel and recurrent weights packed side by
// side), so a step reads every weight once in a single pass; h lives in the tail of that [x; h] buffer,
// where the cell update writes it.
#pragma once

#include <vector>

#include "aligned_buffer.h"
#include "kernels.h"
#include "layer.h"
#include "packed_matrix.h"

namespace rtv {

template <typename T>
class LSTM final : public Layer<T> {
public:
    // JSON arrays flattened: kernel [in][4H], recurrent [H][4H], bias [4H].
    LSTM(std::size_t in, std::size_t hidden, const std::vector<double>& kernel,
         const std::vector<double>& recurrent, const std::vector<double>& bias)
        : in_(in), hidden_(hidden),
          weights_(4 * hidden, in + hidden,
                   [&](std::size_t r, std::size_t c) {
                       return c < in ? kernel[c * 4 * hidden + r] : recurrent[(c - in) * 4 * hidden + r];
                   }),
          bias_(4 * hidden), gates_(4 * hidden), xh_(in + hidden), c_(hidden) {
        for (std::size_t r = 0; r < 4 * hidden; ++r) bias_[r] = static_cast<T>(bias[r]);
    }

    std::size_t in_size() const noexcept override { return in_; }
    std::size_t out_size() const noexcept override { return hidden_; }

    void reset() noexcept override {
        xh_.zero();
        c_.zero();
    }

    void forward(const T* in, T* out) noexcept override {
        T* h = xh_.data() + in_;
        kernels::copy(xh_.data(), in, in_);
        weights_.apply(gates_.data(), bias_.data(), xh_.data());
        kernels::lstm_cell(gates_.data(), c_.data(), h, hidden_);
        kernels::copy(out, h, hidden_);
    }

    std::size_t bytes_held() const noexcept override {
        return weights_.bytes() + bias_.bytes() + gates_.bytes() + xh_.bytes() + c_.bytes();
    }
    std::size_t param_count() const noexcept override { return 4 * hidden_ * (in_ + hidden_ + 1); }

private:
    std::size_t in_, hidden_;
    PackedMatrix<T> weights_;  // [4H] x [in + H]: columns of the kernel, then of the recurrent matrix
    AlignedBuffer<T> bias_;
    AlignedBuffer<T> gates_;  // scratch: the 4H pre-activations of one step
    AlignedBuffer<T> xh_;     // [x; h]: the step's input, then the state h
    AlignedBuffer<T> c_;      // state
};

}  // namespace rtv
