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
    void apply(T* out, const T* init, const T* x) const noexcept {
        kernels::matvec(out, init, data_.data(), x, rows_, cols_);
    }

    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    std::size_t bytes() const noexcept { return data_.bytes(); }

private:
    std::size_t rows_ = 0, cols_ = 0;
    AlignedBuffer<T> data_;
};

}  // namespace rtv
