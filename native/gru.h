// GRU layer, Keras reset_after=True (docs/format.md §8 gru): column blocks z, r, candidate; two bias rows,
// and the recurrent candidate term sits inside the reset gate: c = tanh(Wc x + b0c + r * (Uc h + b1c)).
//
// z and r need only W x + U h, so their rows come from one product over [x; h] with the two bias rows
// summed; the candidate keeps its input and recurrent products apart because only the recurrent one is
// gated by r. Three products, every weight read once per step; h lives in the tail of the [x; h] buffer.
#pragma once

#include <vector>

#include "aligned_buffer.h"
#include "kernels.h"
#include "layer.h"
#include "packed_matrix.h"

namespace rtv {

template <typename T>
class GRU final : public Layer<T> {
public:
    // JSON arrays flattened: kernel [in][3H], recurrent [H][3H], bias [2][3H] (row 0 input, row 1 recurrent).
    GRU(std::size_t in, std::size_t hidden, const std::vector<double>& kernel,
        const std::vector<double>& recurrent, const std::vector<double>& bias)
        : in_(in), hidden_(hidden),
          gates_weights_(2 * hidden, in + hidden,
                         [&](std::size_t r, std::size_t c) {
                             return c < in ? kernel[c * 3 * hidden + r] : recurrent[(c - in) * 3 * hidden + r];
                         }),
          input_candidate_(hidden, in,
                           [&](std::size_t r, std::size_t c) { return kernel[(3 * c + 2) * hidden + r]; }),
          recurrent_candidate_(hidden, hidden,
                               [&](std::size_t r, std::size_t c) { return recurrent[(3 * c + 2) * hidden + r]; }),
          gates_bias_(2 * hidden), input_candidate_bias_(hidden), recurrent_candidate_bias_(hidden),
          gates_(2 * hidden), input_part_(hidden), recurrent_part_(hidden), xh_(in + hidden) {
        const std::size_t rows = 3 * hidden;
        for (std::size_t r = 0; r < 2 * hidden; ++r) gates_bias_[r] = static_cast<T>(bias[r] + bias[rows + r]);
        for (std::size_t j = 0; j < hidden; ++j) {
            input_candidate_bias_[j] = static_cast<T>(bias[2 * hidden + j]);
            recurrent_candidate_bias_[j] = static_cast<T>(bias[rows + 2 * hidden + j]);
        }
    }

    std::size_t in_size() const noexcept override { return in_; }
    std::size_t out_size() const noexcept override { return hidden_; }

    void reset() noexcept override { xh_.zero(); }

    void forward(const T* in, T* out) noexcept override {
        T* h = xh_.data() + in_;
        kernels::copy(xh_.data(), in, in_);
        gates_weights_.apply(gates_.data(), gates_bias_.data(), xh_.data());
        input_candidate_.apply(input_part_.data(), input_candidate_bias_.data(), xh_.data());
        recurrent_candidate_.apply(recurrent_part_.data(), recurrent_candidate_bias_.data(), h);
        kernels::gru_cell(gates_.data(), input_part_.data(), recurrent_part_.data(), h, hidden_);
        kernels::copy(out, h, hidden_);
    }

    std::size_t bytes_held() const noexcept override {
        return gates_weights_.bytes() + input_candidate_.bytes() + recurrent_candidate_.bytes() +
               gates_bias_.bytes() + input_candidate_bias_.bytes() + recurrent_candidate_bias_.bytes() +
               gates_.bytes() + input_part_.bytes() + recurrent_part_.bytes() + xh_.bytes();
    }
    std::size_t param_count() const noexcept override { return 3 * hidden_ * (in_ + hidden_ + 2); }

private:
    std::size_t in_, hidden_;
    PackedMatrix<T> gates_weights_;        // [2H] x [in + H]: z and r rows over [x; h]
    PackedMatrix<T> input_candidate_;      // [H] x [in]: Wc
    PackedMatrix<T> recurrent_candidate_;  // [H] x [H]: Uc
    AlignedBuffer<T> gates_bias_;          // b0 + b1 for z and r
    AlignedBuffer<T> input_candidate_bias_, recurrent_candidate_bias_;  // b0c, b1c
    AlignedBuffer<T> gates_, input_part_, recurrent_part_;  // scratch of one step
    AlignedBuffer<T> xh_;                                   // [x; h]: the step's input, then the state h
};

}  // namespace rtv
