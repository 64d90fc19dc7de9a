// A weight matrix stored in the panel layout of kernels.h, and applied with kernels::matvec.
//
// Layers build one from the JSON arrays at load time through a function value(r, c) -> double, so the
// packing order is written once here and each layer only says which JSON element is W[r][c].
#pragma once

#include <cstddef>

#include "aligned_buffer.h"
#include "kernels.h"

namespace rtv {

template <typename T>
class PackedMatrix {
public:
    PackedMatrix() = default;

    template <typename Value>
    PackedMatrix(std::size_t rows, std::size_t cols, Value&& value)
        : rows_(rows), cols_(cols), data_(kernels::padded_rows(rows, kernels::panel_rows<T>()) * cols) {
        constexpr std::size_t panel = kernels::panel_rows<T>();
        T* dst = data_.data();
        for (std::size_t first = 0; first < rows; first += panel) {
            const std::size_t width = kernels::padded_rows(rows - first < panel ? rows - first : panel, panel);
            for (std::size_t c = 0; c < cols; ++c, dst += width)
                for (std::size_t q = 0; q < width && first + q < rows; ++q)
                    dst[q] = static_cast<T>(value(first + q, c));  // padding rows stay zero
        }
    }

    // out = init + W x; `out` may equal `init`.
    //
    // Each call visits the panels in the opposite order to the call before. A model steps through the same
    // weights again and again; once they outgrow the core's L2 cache, reading them in one fixed order evicts
    // every line shortly before the next step needs it, and the whole matrix streams from L3 each step.
    // Starting each step where the previous one ended reads first what is still cached. Measured on a
    // 2-core Xeon (AVX-512, 2 MB L2), p50 per step, MelodyTransformer (2.5 MB of weights): 59.7 us with one
    // order, 39.7 us alternating; EmotionRecognizer (1.6 MB) 20.1 -> 15.3 us. The results cannot differ:
    // panels are blocks of whole rows (kernels::PanelOrder).
    void apply(T* out, const T* init, const T* x) noexcept {
        order_ = order_ == kernels::PanelOrder::first_to_last ? kernels::PanelOrder::last_to_first
                                                              : kernels::PanelOrder::first_to_last;
        kernels::matvec(out, init, data_.data(), x, rows_, cols_, order_);
    }

    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    std::size_t bytes() const noexcept { return data_.bytes(); }

private:
    std::size_t rows_ = 0, cols_ = 0;
    AlignedBuffer<T> data_;
    kernels::PanelOrder order_ = kernels::PanelOrder::first_to_last;  // of the last apply()
};

}  // namespace rtv
