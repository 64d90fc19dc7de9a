// The shared arithmetic of the layers. Layers call only these functions for their inner loops; the loops
// themselves live in kernels.cpp, compiled once per dispatch level and picked at load time (simd_level()).
//
// Two promises hold for every function here, whatever level runs:
// * The result does not depend on the level. Sums are formed in the order the maths is written (no
//   reassociation, no fused multiply-add: the build passes -ffp-contract=off), and a vector lane computes
//   exactly what the scalar code would, so a wider register only does more lanes at once.
// * No allocation, no exception: they run inside a forward step.
#pragma once

#include <cstddef>
#include <vector>

namespace rtv::kernels {

// --- the packed matrix layout --------------------------------------------------------------------------
//
// A rows x cols matrix applied as y = b + sum_c W[:, c] x[c] is stored in panels of kPanelBytes worth of
// rows. Within a panel, column c's rows are contiguous ([cols][panel rows]), and panels follow each other,
// so one step reads the whole matrix exactly once, each panel front to back in the order the kernel consumes
// it (the panels themselves first to last or last to first: PanelOrder).
// Accumulating whole columns vectorises across rows without reassociating any row's sum, which is why the
// layout is column-major in panels rather than one dot product per row. The last panel holds the remaining
// rows rounded up to kRowPadding (zeros past the last row); kRowPadding is a count of values, not bytes, so
// a float64 model holds exactly twice the bytes of its float32 twin. 256 bytes is four AVX-512 registers of
// accumulators (eight AVX2, sixteen SSE2: all fit); 512 measured no faster.
constexpr std::size_t kPanelBytes = 256;
constexpr std::size_t kRowPadding = 16;

template <typename T>
constexpr std::size_t panel_rows() noexcept {
    return kPanelBytes / sizeof(T);
}

constexpr std::size_t padded_rows(std::size_t rows, std::size_t panel) noexcept {
    const std::size_t tail = rows % panel;
    return rows - tail + (tail + kRowPadding - 1) / kRowPadding * kRowPadding;
}

// The order the panels of one matrix are visited in. Each panel is a block of whole rows, so the order
// changes which memory is read first and nothing else: every row's sum is the same either way.
enum class PanelOrder : bool { first_to_last, last_to_first };

// out[r] = init[r] + sum_c W[r][c] x[c], summed over c in order, with W packed as above. `out` may equal
// `init` (accumulate in place); neither is read or written past `rows`.
void matvec(float* out, const float* init, const float* packed, const float* x, std::size_t rows,
            std::size_t cols, PanelOrder order) noexcept;
void matvec(double* out, const double* init, const double* packed, const double* x, std::size_t rows,
            std::size_t cols, PanelOrder order) noexcept;

// --- activations (docs/format.md §4 formulas; error figures in kernels.cpp) ----------------------------------

void tanh(float* out, const float* in, std::size_t n) noexcept;
void tanh(double* out, const double* in, std::size_t n) noexcept;
void sigmoid(float* out, const float* in, std::size_t n) noexcept;  // 1 / (1 + exp(-x))
void sigmoid(double* out, const double* in, std::size_t n) noexcept;
void elu(float* out, const float* in, std::size_t n) noexcept;  // x > 0 ? x : exp(x) - 1
void elu(double* out, const double* in, std::size_t n) noexcept;
// exp over the whole vector, then divided by its sum taken in index order; no max subtraction, as RTNeural.
void softmax(float* out, const float* in, std::size_t n) noexcept;
void softmax(double* out, const double* in, std::size_t n) noexcept;

// --- recurrent cell updates -------------------------------------------------------------------------------

// gates = [i | f | g | o] pre-activations (4H): c = s(f) c + s(i) tanh(g); h = s(o) tanh(c).
void lstm_cell(const float* gates, float* c, float* h, std::size_t hidden) noexcept;
void lstm_cell(const double* gates, double* c, double* h, std::size_t hidden) noexcept;

// zr = [z | r] pre-activations (2H), nx = Wc x + b0c, nh = Uc h + b1c:
// h = (1 - z) tanh(nx + r nh) + z h.
void gru_cell(const float* zr, const float* nx, const float* nh, float* h, std::size_t hidden) noexcept;
void gru_cell(const double* zr, const double* nx, const double* nh, double* h, std::size_t hidden) noexcept;

// --- machine facts ----------------------------------------------------------------------------------------

// The level whose code runs. On x86-64 built with GCC or Clang: "x86-64-v4" (AVX-512), "x86-64-v3" (AVX2)
// or "x86-64" (the SSE2 baseline every x86-64 has), the best this CPU supports unless the environment
// variable dispatch_variable() (RTV_DISPATCH) named another when the module was loaded. Elsewhere one
// level, "portable" (simd.h). Every level gives the same bits (tests/test_dispatch.py).
const char* simd_level() noexcept;

// The levels of this build, best first, and whether this CPU runs each.
struct SimdLevel {
    const char* name;
    bool supported;
};
std::vector<SimdLevel> simd_levels();
const char* dispatch_variable() noexcept;
// Why the level dispatch_variable() asked for is not the one running (unknown name, or one this CPU lacks);
// nullptr when it was honoured or not set.
const char* dispatch_problem() noexcept;

// Reads n floats front to back with the same vector width the kernels use, with (`ahead`) or without a
// software prefetch 1 KB ahead, and returns their sum (so the reads cannot be optimised away): the bandwidth
// probe the latency floor is measured with.
float read_sweep(const float* data, std::size_t n, bool ahead) noexcept;

// --- plain helpers ---------------------------------------------------------------------------------------

template <typename T>
inline void copy(T* dst, const T* src, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) dst[i] = src[i];
}

// out[r] += sum_c W[r * cols + c] * x[c] for a row-major W (one contiguous row per output). Kept for the
// conv2d layer, whose small per-tap matrices are not packed; the dot product is formed first and then
// added, so a bias preloaded in `out` is added exactly once, as in `W x + b`.
template <typename T>
inline void matvec_accumulate(T* out, const T* W, const T* x, std::size_t rows, std::size_t cols) noexcept {
    for (std::size_t r = 0; r < rows; ++r) {
        const T* row = W + r * cols;
        T acc = T(0);
        for (std::size_t c = 0; c < cols; ++c) acc += row[c] * x[c];
        out[r] += acc;
    }
}

}  // namespace rtv::kernels
