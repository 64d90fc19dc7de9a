// The inner loops of kernels.h, written once with GCC vector types of 64 bytes (one AVX-512 register) and
// compiled by function multi-versioning for three x86-64 levels; the dynamic loader picks the best one the
// CPU runs when the module loads (an ifunc), so the default build runs on any x86-64 and uses AVX-512 where
// it exists. On a narrower level the compiler splits each 64-byte vector into two AVX2 or four SSE2
// registers: the same operations, lane for lane, so the numbers do not depend on the level (no FMA: the
// build passes -ffp-contract=off, and nothing here asks for one).
//
// Activations are computed with one exp kernel (range reduction x = n ln2 + r, a polynomial for e^r,
// scaling by 2^n in two halves so that overflow gives inf and the subnormal range is kept) and the
// formulas of FORMAT.md §4 on top. Measured against std:: functions over dense grids on [-30, 30] and at
// the extremes (tests/test_fast_activations.py pins the bounds):
//   float32: exp relative error <= 2 ulp; tanh, sigmoid, elu absolute error <= 1.2e-7 (one float32 ulp
//            of 1) — the float32 rounding of the inputs is already larger.
//   float64: exp relative error <= 2 ulp; tanh, sigmoid, elu absolute error <= 4.5e-16.
// NaN propagates, tanh(+-inf) = +-1, sigmoid(-inf) = 0, exp overflows to inf where std::exp does, and
// softmax therefore overflows (inf / inf = NaN) exactly where RTNeural's does.
#include "kernels.h"

#include <cstdint>

#ifndef RTV_DISPATCH  // a build for one fixed level (to compare levels) defines it empty
#define RTV_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#define RTV_INLINE inline __attribute__((always_inline))

namespace rtv::kernels {
namespace {

typedef float VF __attribute__((vector_size(64)));
typedef double VD __attribute__((vector_size(64)));
typedef std::int32_t VI32 __attribute__((vector_size(64)));
typedef std::int64_t VI64 __attribute__((vector_size(64)));

template <typename T>
struct Vector;
template <>
struct Vector<float> {
    using type = VF;
};
template <>
struct Vector<double> {
    using type = VD;
};
template <typename T>
using Vec = typename Vector<T>::type;
template <typename T>
constexpr std::size_t kLanes = sizeof(Vec<T>) / sizeof(T);

// Unaligned by construction (memcpy): activations, biases and layer outputs have no alignment promise.
template <typename V, typename T>
RTV_INLINE V load(const T* p) {
    V v;
    __builtin_memcpy(&v, p, sizeof(V));
    return v;
}
template <typename T, typename V>
RTV_INLINE void store(T* p, const V& v) {
    __builtin_memcpy(p, &v, sizeof(V));
}
template <typename To, typename From>
RTV_INLINE To bits(const From& v) {
    static_assert(sizeof(To) == sizeof(From));
    To out;
    __builtin_memcpy(&out, &v, sizeof(To));
    return out;
}
template <typename V, typename T>
RTV_INLINE V splat(T x) {
    V v;
    for (std::size_t k = 0; k < sizeof(V) / sizeof(v[0]); ++k) v[k] = x;
    return v;
}

// Asks for the cache line kPrefetchBytes ahead of p into L1. The weights are read front to back, so the
// hardware prefetchers find them too, but not early enough once a model outgrows L2: on the Zen 5 this was
// tuned on, a 2.5 MB chain of matrices ran 1.17x its plain read time without it and 1.03x with it (512 to
// 2048 bytes ahead all did as well; prefetching only into L2 did worse). The bandwidth probe reads the same
// way, so the floor it measures is not the slower, non-prefetching read.
constexpr std::size_t kPrefetchBytes = 1024;
template <typename T>
RTV_INLINE void prefetch(const T* p) {
    __builtin_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, 0, 3);
}

// --- matvec -----------------------------------------------------------------------------------------------

// One panel of NV vectors of rows: acc = init; acc += W[:, c] * x[c] for c in order.
template <typename T, int NV>
RTV_INLINE void panel(T* out, const T* init, const T* w, const T* x, std::size_t cols) {
    using V = Vec<T>;
    constexpr std::size_t L = kLanes<T>;
    V acc[NV];
    for (int v = 0; v < NV; ++v) acc[v] = load<V>(init + v * L);
    const T* wp = static_cast<const T*>(__builtin_assume_aligned(w, 64));
    for (std::size_t c = 0; c < cols; ++c, wp += NV * L) {
        for (int v = 0; v < NV; ++v) prefetch(wp + v * L);
        const T xc = x[c];
        for (int v = 0; v < NV; ++v) acc[v] += load<V>(wp + v * L) * xc;
    }
    for (int v = 0; v < NV; ++v) store(out + v * L, acc[v]);
}

// The last, narrower panel: its rows go through a padded local copy so that nothing past `rows` is touched.
template <typename T>
RTV_INLINE void tail_panel(T* out, const T* init, const T* w, const T* x, std::size_t rows, std::size_t cols) {
    constexpr std::size_t L = kLanes<T>;
    alignas(64) T tmp[panel_rows<T>()] = {};
    for (std::size_t r = 0; r < rows; ++r) tmp[r] = init[r];
    switch ((padded_rows(rows, panel_rows<T>()) + L - 1) / L) {
        case 1: panel<T, 1>(tmp, tmp, w, x, cols); break;
        case 2: panel<T, 2>(tmp, tmp, w, x, cols); break;
        case 3: panel<T, 3>(tmp, tmp, w, x, cols); break;
        default: panel<T, 4>(tmp, tmp, w, x, cols); break;
    }
    for (std::size_t r = 0; r < rows; ++r) out[r] = tmp[r];
}

template <typename T>
RTV_INLINE void matvec_impl(T* out, const T* init, const T* packed, const T* x, std::size_t rows,
                            std::size_t cols) {
    constexpr std::size_t P = panel_rows<T>();
    static_assert(P == 4 * kLanes<T>, "a full panel is four vectors");
    std::size_t r = 0;
    for (; r + P <= rows; r += P, packed += P * cols) panel<T, 4>(out + r, init + r, packed, x, cols);
    if (r < rows) tail_panel(out + r, init + r, packed, x, rows - r, cols);
}

// --- exp and the activations built on it --------------------------------------------------------------------

// e^x = 2^n e^r with n = round(x / ln2), r = x - n ln2 (ln2 split in two so that n * hi is exact), and
// 2^n applied as 2^(n/2) 2^(n - n/2), each a normal number, so that results near overflow and in the
// subnormal range are rounded once, as std::exp rounds them.
RTV_INLINE VF exp_v(VF x) {
    const VF lo = splat<VF>(-104.0f), hi = splat<VF>(89.0f);  // beyond these e^x is 0 / inf in float
    x = x < lo ? lo : x;  // written so that a NaN fails both tests and passes through
    x = x > hi ? hi : x;
    const VF magic = splat<VF>(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer in the low bits
    const VF t = x * 1.44269504088896341f + magic;
    const VF n = t - magic;
    const VI32 ni = bits<VI32>(t) - bits<VI32>(magic);
    VF r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    // Cephes expf: e^r = 1 + r + r^2 P(r) on |r| <= ln2 / 2.
    VF p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    const VI32 n1 = ni >> 1, n2 = ni - n1;
    return p * bits<VF>((n1 + 127) << 23) * bits<VF>((n2 + 127) << 23);
}

RTV_INLINE VD exp_v(VD x) {
    const VD lo = splat<VD>(-746.0), hi = splat<VD>(710.0);
    x = x < lo ? lo : x;
    x = x > hi ? hi : x;
    const VD magic = splat<VD>(6755399441055744.0);  // 1.5 * 2^52
    const VD t = x * 1.4426950408889634074 + magic;
    const VD n = t - magic;
    const VI64 ni = bits<VI64>(t) - bits<VI64>(magic);
    VD r = x - n * 6.93147180369123816490e-01;  // fdlibm's ln2_hi / ln2_lo
    r = r - n * 1.90821492927058770002e-10;
    // Taylor to r^13: the next term is below 4e-18 relative on |r| <= ln2 / 2.
    VD p = r * (1.0 / 6227020800.0) + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * (r * r) + r + 1.0;
    const VI64 n1 = ni >> 1, n2 = ni - n1;
    return p * bits<VD>((n1 + 1023) << 52) * bits<VD>((n2 + 1023) << 52);
}

template <typename V>
RTV_INLINE V sigmoid_v(V x) {
    return 1 / (1 + exp_v(-x));
}

// |x| < 0.625: Cephes' odd polynomial (float) or rational function (double), where 1 - 2 / (e^2|x| + 1)
// would lose relative precision; above, that formula. In double both branches end in a division, the
// costliest instruction here, so the operands are chosen first and divided once. Both branches run on |x|
// and the sign is put back last: tanh is odd, and tanh(-0) stays -0.
RTV_INLINE VF tanh_v(VF x) {
    const VI32 sign = bits<VI32>(x) & bits<VI32>(splat<VF>(-0.0f));
    const VF ax = bits<VF>(bits<VI32>(x) ^ sign);
    const VF large = 1.0f - 2.0f / (exp_v(ax + ax) + 1.0f);
    const VF z = ax * ax;
    VF p = z * -5.70498872745e-3f + 2.06390887954e-2f;
    p = p * z + -5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z + -3.33332819422e-1f;
    const VF small = p * z * ax + ax;
    return bits<VF>(bits<VI32>(ax < 0.625f ? small : large) | sign);
}

RTV_INLINE VD tanh_v(VD x) {
    const VI64 sign = bits<VI64>(x) & bits<VI64>(splat<VD>(-0.0));
    const VD ax = bits<VD>(bits<VI64>(x) ^ sign);
    const VD z = ax * ax;
    VD p = z * -9.64399179425052238628e-1 + -9.92877231001918586564e1;
    p = p * z + -1.61468768441708447952e3;
    VD q = z + 1.12811678491632931402e2;
    q = q * z + 2.23548839060100448583e3;
    q = q * z + 4.84406305325125486048e3;
    const auto small = ax < 0.625;
    const VD quotient = small ? (ax * q + ax * (z * p)) / q : 2.0 / (exp_v(ax + ax) + 1.0);
    return bits<VD>(bits<VI64>(small ? quotient : 1.0 - quotient) | sign);
}

template <typename V>
RTV_INLINE V elu_v(V x) {
    return x > 0 ? x : exp_v(x) - 1;
}

// Function objects rather than lambdas: a lambda's body is a function of its own, compiled for the baseline
// target, and would run SSE2 code inside an AVX-512 clone whenever the compiler chose not to inline it.
struct Exp {
    template <typename V>
    RTV_INLINE V operator()(V x) const { return exp_v(x); }
};
struct Tanh {
    template <typename V>
    RTV_INLINE V operator()(V x) const { return tanh_v(x); }
};
struct Sigmoid {
    template <typename V>
    RTV_INLINE V operator()(V x) const { return sigmoid_v(x); }
};
struct Elu {
    template <typename V>
    RTV_INLINE V operator()(V x) const { return elu_v(x); }
};
template <typename T>
struct DivideBy {
    T divisor;
    RTV_INLINE Vec<T> operator()(Vec<T> x) const { return x / divisor; }
};

// Applies f to n values, whole vectors first, then the remainder through a padded local vector.
template <typename T, typename F>
RTV_INLINE void map(T* out, const T* in, std::size_t n, F f) {
    using V = Vec<T>;
    constexpr std::size_t L = kLanes<T>;
    std::size_t i = 0;
    for (; i + L <= n; i += L) store(out + i, f(load<V>(in + i)));
    if (i < n) {
        T tmp[L] = {};
        for (std::size_t k = 0; i + k < n; ++k) tmp[k] = in[i + k];
        const V y = f(load<V>(tmp));
        store(tmp, y);
        for (std::size_t k = 0; i + k < n; ++k) out[i + k] = tmp[k];
    }
}

template <typename T>
RTV_INLINE void softmax_impl(T* out, const T* in, std::size_t n) {
    map(out, in, n, Exp{});
    T sum = T(0);
    for (std::size_t i = 0; i < n; ++i) sum += out[i];
    map(out, out, n, DivideBy<T>{sum});
}

// --- recurrent cells -------------------------------------------------------------------------------------

// One vector of cells; `stride` is the distance between gate blocks.
template <typename T>
RTV_INLINE void lstm_step(const T* g, std::size_t stride, T* cj, T* hj) {
    using V = Vec<T>;
    const V i = sigmoid_v(load<V>(g));
    const V f = sigmoid_v(load<V>(g + stride));
    const V candidate = tanh_v(load<V>(g + 2 * stride));
    const V o = sigmoid_v(load<V>(g + 3 * stride));
    const V cell = f * load<V>(cj) + i * candidate;
    store(cj, cell);
    store(hj, o * tanh_v(cell));
}

// Whole vectors of cells first; the last partial vector goes through padded copies of every array the cell
// reads or writes, so that nothing past `hidden` is touched.
template <typename T>
RTV_INLINE void lstm_cell_impl(const T* gates, T* c, T* h, std::size_t H) {
    constexpr std::size_t L = kLanes<T>;
        std::size_t j = 0;
    for (; j + L <= H; j += L) lstm_step(gates + j, H, c + j, h + j);
    if (j < H) {
        T g[4 * L] = {}, cj[L] = {}, hj[L] = {};
        const std::size_t rest = H - j;
        for (std::size_t k = 0; k < rest; ++k) {
            for (std::size_t gate = 0; gate < 4; ++gate) g[gate * L + k] = gates[gate * H + j + k];
            cj[k] = c[j + k];
        }
        lstm_step<T>(g, L, cj, hj);
        for (std::size_t k = 0; k < rest; ++k) {
            c[j + k] = cj[k];
            h[j + k] = hj[k];
        }
    }
}

template <typename T>
RTV_INLINE void gru_step(const T* zrj, std::size_t stride, const T* nxj, const T* nhj, T* hj) {
    using V = Vec<T>;
    const V z = sigmoid_v(load<V>(zrj));
    const V r = sigmoid_v(load<V>(zrj + stride));
    const V candidate = tanh_v(load<V>(nxj) + r * load<V>(nhj));
    store(hj, (1 - z) * candidate + z * load<V>(hj));
}

template <typename T>
RTV_INLINE void gru_cell_impl(const T* zr, const T* nx, const T* nh, T* h, std::size_t H) {
    constexpr std::size_t L = kLanes<T>;
    std::size_t j = 0;
    for (; j + L <= H; j += L) gru_step(zr + j, H, nx + j, nh + j, h + j);
    if (j < H) {
        T zrj[2 * L] = {}, nxj[L] = {}, nhj[L] = {}, hj[L] = {};
        const std::size_t rest = H - j;
        for (std::size_t k = 0; k < rest; ++k) {
            zrj[k] = zr[j + k];
            zrj[L + k] = zr[H + j + k];
            nxj[k] = nx[j + k];
            nhj[k] = nh[j + k];
            hj[k] = h[j + k];
        }
        gru_step<T>(zrj, L, nxj, nhj, hj);
        for (std::size_t k = 0; k < rest; ++k) h[j + k] = hj[k];
    }
}

}  // namespace

// --- the dispatched entry points -------------------------------------------------------------------------

RTV_DISPATCH void matvec(float* out, const float* init, const float* packed, const float* x, std::size_t rows,
                         std::size_t cols) noexcept {
    matvec_impl(out, init, packed, x, rows, cols);
}
RTV_DISPATCH void matvec(double* out, const double* init, const double* packed, const double* x,
                         std::size_t rows, std::size_t cols) noexcept {
    matvec_impl(out, init, packed, x, rows, cols);
}

RTV_DISPATCH void tanh(float* out, const float* in, std::size_t n) noexcept {
    map(out, in, n, Tanh{});
}
RTV_DISPATCH void tanh(double* out, const double* in, std::size_t n) noexcept {
    map(out, in, n, Tanh{});
}
RTV_DISPATCH void sigmoid(float* out, const float* in, std::size_t n) noexcept {
    map(out, in, n, Sigmoid{});
}
RTV_DISPATCH void sigmoid(double* out, const double* in, std::size_t n) noexcept {
    map(out, in, n, Sigmoid{});
}
RTV_DISPATCH void elu(float* out, const float* in, std::size_t n) noexcept {
    map(out, in, n, Elu{});
}
RTV_DISPATCH void elu(double* out, const double* in, std::size_t n) noexcept {
    map(out, in, n, Elu{});
}
RTV_DISPATCH void softmax(float* out, const float* in, std::size_t n) noexcept { softmax_impl(out, in, n); }
RTV_DISPATCH void softmax(double* out, const double* in, std::size_t n) noexcept { softmax_impl(out, in, n); }

RTV_DISPATCH void lstm_cell(const float* gates, float* c, float* h, std::size_t hidden) noexcept {
    lstm_cell_impl(gates, c, h, hidden);
}
RTV_DISPATCH void lstm_cell(const double* gates, double* c, double* h, std::size_t hidden) noexcept {
    lstm_cell_impl(gates, c, h, hidden);
}
RTV_DISPATCH void gru_cell(const float* zr, const float* nx, const float* nh, float* h,
                           std::size_t hidden) noexcept {
    gru_cell_impl(zr, nx, nh, h, hidden);
}
RTV_DISPATCH void gru_cell(const double* zr, const double* nx, const double* nh, double* h,
                           std::size_t hidden) noexcept {
    gru_cell_impl(zr, nx, nh, h, hidden);
}

RTV_DISPATCH float read_sweep(const float* data, std::size_t n, bool ahead) noexcept {
    // Four independent sums, so that the loop is bound by the reads and not by the adds' latency.
    constexpr std::size_t L = kLanes<float>;
    VF a0{}, a1{}, a2{}, a3{};
    std::size_t i = 0;
    for (; i + 4 * L <= n; i += 4 * L) {
        if (ahead)
            for (std::size_t v = 0; v < 4; ++v) prefetch(data + i + v * L);
        a0 += load<VF>(data + i);
        a1 += load<VF>(data + i + L);
        a2 += load<VF>(data + i + 2 * L);
        a3 += load<VF>(data + i + 3 * L);
    }
    const VF a = (a0 + a1) + (a2 + a3);
    float sum = 0.0f;
    for (std::size_t k = 0; k < L; ++k) sum += a[k];
    for (; i < n; ++i) sum += data[i];
    return sum;
}

// Versioned by hand with the same three targets, so that the dispatcher's choice here is the one the
// target_clones resolver makes for every kernel above. GCC emits a hand-versioned function's dispatcher
// only where it is called, so the versions stay in this file behind one ordinary function.
namespace {
__attribute__((target("arch=x86-64-v4"))) const char* dispatched_level() noexcept { return "x86-64-v4"; }
__attribute__((target("arch=x86-64-v3"))) const char* dispatched_level() noexcept { return "x86-64-v3"; }
__attribute__((target("default"))) const char* dispatched_level() noexcept { return "x86-64"; }
}  // namespace

const char* simd_level() noexcept { return dispatched_level(); }

}  // namespace rtv::kernels
