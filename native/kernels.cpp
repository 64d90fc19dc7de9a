// The inner loops of kernels.h, written once over the vector layer of simd.h (Vec<T, B>: B bytes of T) and
// instantiated once per dispatch level. On x86-64 with GCC or Clang: B = 64 for x86-64-v4 (AVX-512), 32 for
// x86-64-v3 (AVX2), 16 for the x86-64 baseline (SSE2), each compiled with its target attribute; the level
// is chosen once when the module loads (the best the CPU runs, or the one RTV_DISPATCH names), so the
// default build runs on any x86-64 and uses AVX-512 where it exists. Everywhere else (aarch64: NEON; MSVC:
// plain lanes) one level, "portable", B = 16. Every operation is element-wise or a sum in a fixed order, so
// a lane computes exactly what the scalar code would and the numbers do not depend on the level or the
// platform (no FMA either: the build turns contraction off, and nothing here asks for one);
// tests/test_dispatch.py and tests/test_portability.py compare the bytes. The exception is a NaN's sign and
// payload: where two NaNs meet, which one an instruction passes on depends on the operand order the
// compiler picked for that level (IEEE 754 leaves it open; aarch64's default NaN differs from x86's too).
//
// Activations are computed with one exp kernel (range reduction x = n ln2 + r, a polynomial for e^r,
// scaling by 2^n in two halves so that overflow gives inf and the subnormal range is kept) and the
// formulas of docs/format.md §4 on top (float tanh and sigmoid clamp their argument to where the result is not
// yet saturated and use that kernel with one scale multiply: exp_narrow_v). Measured against the exact
// functions (long double) on dense grids of [-30, 30] and at the branch, saturation, overflow and underflow
// points (tests/test_kernels.py pins the bounds):
//   float32: exp <= 1 ulp; absolute error of tanh 7.0e-8, sigmoid 8.9e-8, elu 4.6e-8 (bound 1.2e-7, one
//            float32 ulp of 1.0: the float32 rounding of the inputs is already larger);
//   float64: exp <= 1 ulp; absolute error of tanh 1.4e-16, sigmoid 1.7e-16, elu 8.8e-17 (bound 2.3e-16).
// NaN propagates, tanh(+-inf) = +-1, tanh(-0) = -0, sigmoid(-inf) = 0, exp overflows to inf where std::exp
// does, and softmax therefore overflows (inf / inf = NaN) exactly where RTNeural's does.
#include "kernels.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "simd.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(RTV_NO_DISPATCH)
// x86-64 run-time dispatch: each level's functions carry a target attribute, the CPU's features are read
// with cpuid. Needs neither ifunc nor ELF, only GCC >= 11 or Clang >= 12 (they know the level names).
// RTV_NO_DISPATCH builds the one portable level instead (how the self-test reproduces MSVC's build here).
#define RTV_X86_DISPATCH 1
#include <cpuid.h>
#endif

namespace rtv::kernels {
namespace {

using simd::bits;
using simd::Element;
using simd::kLanes;
using simd::load;
using simd::Mask;
using simd::select;
using simd::splat;
using simd::store;
using simd::Vec;

// Asks for the cache line kPrefetchBytes ahead of p into L1: the bandwidth probe's prefetching read
// (read_sweep with `ahead`). The matrix kernels do not prefetch: on the Zen 5 the engine was first tuned on,
// a 2.5 MB chain of matrices read in one order ran 1.17x its plain read time without it, but with the panel
// order alternating every step (PackedMatrix::apply) most of a step's weights come from L2, and on a
// 2-core Xeon (AVX-512, 2 MB L2) the four prefetches per column cost more than they saved: p50 per step
// 39.7 -> 35.7 us on MelodyTransformer, 2.55 -> 2.28 us on HarmonyPredictor, 0.52 -> 0.47 us on
// DynamicsEngine.
constexpr std::size_t kPrefetchBytes = 1024;
template <typename T>
RTV_INLINE void prefetch(const T* p) {
    simd::prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes);
}

// --- matvec -----------------------------------------------------------------------------------------------

// At most this many accumulator registers per pass over the columns: with the broadcast x[c] and a loaded
// weight vector it fits the 16 registers of SSE2 and AVX2. A wider panel (SSE2's is 16 vectors) is done in
// two passes over the same columns, each summing its rows in the same column order.
constexpr int kMaxAccumulators = 8;

// NV vectors of rows: acc = init; acc += W[:, c] * x[c] for c in order. Column c of these rows starts at
// w + c * stride (stride = the panel's width in values).
template <std::size_t B, int NV, typename T>
RTV_INLINE void rows_pass(T* out, const T* init, const T* w, std::size_t stride, const T* x,
                          std::size_t cols) {
    using V = Vec<T, B>;
    constexpr std::size_t L = kLanes<V>;
    V acc[NV];
    for (int v = 0; v < NV; ++v) acc[v] = load<V>(init + v * L);
    for (std::size_t c = 0; c < cols; ++c, w += stride) {
        const T xc = x[c];
        for (int v = 0; v < NV; ++v) acc[v] += load<V>(w + v * L) * xc;
    }
    for (int v = 0; v < NV; ++v) store(out + v * L, acc[v]);
}

// rows_pass<NV> for a count known only at run time (1 <= count <= NV).
template <std::size_t B, int NV, typename T>
RTV_INLINE void rows_pass_of(int count, T* out, const T* init, const T* w, std::size_t stride, const T* x,
                             std::size_t cols) {
    if constexpr (NV > 1) {
        if (count < NV) return rows_pass_of<B, NV - 1>(count, out, init, w, stride, x, cols);
    }
    rows_pass<B, NV>(out, init, w, stride, x, cols);
}

// One panel of `width` rows (a multiple of kRowPadding), in passes of at most kMaxAccumulators vectors.
template <std::size_t B, typename T>
RTV_INLINE void panel(T* out, const T* init, const T* w, std::size_t width, const T* x, std::size_t cols) {
    constexpr std::size_t L = kLanes<Vec<T, B>>;
    static_assert(kRowPadding % L == 0, "a padded panel must be whole vectors");
    constexpr int kPanelVectors = static_cast<int>(panel_rows<T>() / L);
    constexpr int kPass = kPanelVectors < kMaxAccumulators ? kPanelVectors : kMaxAccumulators;
    for (std::size_t first = 0; first < width; first += kPass * L) {
        const int rest = static_cast<int>((width - first) / L);
        const int count = rest < kPass ? rest : kPass;
        rows_pass_of<B, kPass>(count, out + first, init + first, w + first, width, x, cols);
    }
}

// The last, narrower panel of a matrix whose rows are not a whole number of panels (rows - first < P): it
// goes through a padded local copy so that nothing past `rows` is touched.
template <std::size_t B, typename T>
RTV_INLINE void last_panel(T* out, const T* init, const T* w, const T* x, std::size_t rest,
                           std::size_t cols) {
    constexpr std::size_t P = panel_rows<T>();
    // A panel of whole vectors (rest a multiple of kRowPadding, which every level's lane count divides)
    // is read and written in place, like a full one: no row past `rest` is touched then.
    if (rest % kRowPadding == 0) return panel<B>(out, init, w, rest, x, cols);
    alignas(64) T tmp[P] = {};
    for (std::size_t k = 0; k < rest; ++k) tmp[k] = init[k];
    panel<B>(tmp, tmp, w, padded_rows(rest, P), x, cols);
    for (std::size_t k = 0; k < rest; ++k) out[k] = tmp[k];
}

// No lambdas here (see Exp below): one left out of line would run baseline code inside a wider level.
template <std::size_t B, typename T>
RTV_INLINE void matvec_impl(T* out, const T* init, const T* packed, const T* x, std::size_t rows,
                            std::size_t cols, PanelOrder order) {
    constexpr std::size_t P = panel_rows<T>();
    const std::size_t whole = rows / P, rest = rows - whole * P;
    const std::size_t tail = whole * P;
    if (order == PanelOrder::first_to_last) {
        for (std::size_t r = 0; r < tail; r += P) panel<B>(out + r, init + r, packed + r * cols, P, x, cols);
        if (rest != 0) last_panel<B>(out + tail, init + tail, packed + tail * cols, x, rest, cols);
    } else {
        if (rest != 0) last_panel<B>(out + tail, init + tail, packed + tail * cols, x, rest, cols);
        for (std::size_t r = tail; r > 0;) {
            r -= P;
            panel<B>(out + r, init + r, packed + r * cols, P, x, cols);
        }
    }
}

// --- exp and the activations built on it -------------------------------------------------------------------

// e^x = 2^n e^r with n = round(x / ln2), r = x - n ln2 (ln2 split in two so that n * hi is exact), and
// 2^n applied as 2^n1 2^n2 with n1 + n2 = n, each a normal number, so that results near overflow and in the
// subnormal range are rounded once, as std::exp rounds them. The integers are read off the bits of a float
// that a "magic" constant rounded (no float-to-int conversion: SSE2 and AVX2 have none for 64-bit lanes).
// The float e^x before scaling: returns e^r for x = n ln2 + r and sets n. The range reduction and
// polynomial shared by exp_v and exp_narrow_v, which differ only in how they apply 2^n.
template <typename V>
RTV_INLINE V exp_reduced_f(V x, Mask<V>& ni) {
    using I = Mask<V>;
    const V magic = splat<V>(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer in the low bits
    const V t = x * 1.44269504088896341f + magic;
    const V n = t - magic;
    ni = bits<I>(t) - bits<I>(magic);
    V r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    // Cephes expf: e^r = 1 + r + r^2 P(r) on |r| <= ln2 / 2.
    V p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return p * (r * r) + r + 1.0f;
}

template <typename V>
RTV_INLINE V exp_v(V x) {
    using I = Mask<V>;
    if constexpr (std::is_same_v<Element<V>, float>) {
        const V lo = splat<V>(-104.0f), hi = splat<V>(89.0f);  // beyond these e^x is 0 / inf in float
        x = select(x < lo, lo, x);  // written so that a NaN fails both tests and passes through
        x = select(x > hi, hi, x);
        I ni;
        const V p = exp_reduced_f(x, ni);
        const I n1 = ni >> 1, n2 = ni - n1;
        return p * bits<V>((n1 + 127) << 23) * bits<V>((n2 + 127) << 23);
    } else {
        const V lo = splat<V>(-746.0), hi = splat<V>(710.0);
        x = select(x < lo, lo, x);
        x = select(x > hi, hi, x);
        const V magic = splat<V>(6755399441055744.0);  // 1.5 * 2^52
        const V t = x * 1.4426950408889634074 + magic;
        const V n = t - magic;
        const I ni = bits<I>(t) - bits<I>(magic);
        V r = x - n * 6.93147180369123816490e-01;  // fdlibm's ln2_hi / ln2_lo
        r = r - n * 1.90821492927058770002e-10;
        // Taylor to r^13: the next term is below 4e-18 relative on |r| <= ln2 / 2.
        V p = r * (1.0 / 6227020800.0) + 1.0 / 479001600.0;
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
        const I n1 = bits<I>((n * 0.5 + magic)) - bits<I>(magic);  // n / 2 rounded: exact, no shift needed
        const I n2 = ni - n1;
        return p * bits<V>((n1 + 1023) << 52) * bits<V>((n2 + 1023) << 52);
    }
}

// e^x in float for x that the caller has clamped to [-87, 89]: n = round(x / ln2) is in [-126, 128], so 2^n
// is one scale factor, normal or (n = 128) +inf, and exp_v's clamps and second multiply drop out. The
// reduction and polynomial are exp_v's (exp_reduced_f), and p 2^n equals p 2^n1 2^n2 exactly while
// 2^n is normal: the results are exp_v's bit for bit for x <= 88.37; above, this gives inf where exp_v
// still has its last finite values (up to 88.72). tanh and sigmoid clamp to where their results are not yet
// saturated (a NaN passes every clamp and comes out NaN).
template <typename V>
RTV_INLINE V exp_narrow_v(V x) {
    static_assert(std::is_same_v<Element<V>, float>);
    Mask<V> ni;
    const V p = exp_reduced_f(x, ni);
    return p * bits<V>((ni + 127) << 23);
}

// float: -x is clamped to [-17.5, 89]. Below, e^-x < 2.6e-8 and 1 + e^-x rounds to 1 either way; above
// 88.37, 2^n is inf and the result 0. The one difference from 1 / (1 + exp_v(-x)), checked on every float:
// for x in (-88.73, -88.37] that gave the subnormal 1 / e^-x (at most 4.2e-39), this gives 0.
template <typename V>
RTV_INLINE V sigmoid_v(V x) {
    if constexpr (std::is_same_v<Element<V>, float>) {
        const V lo = splat<V>(-17.5f), hi = splat<V>(89.0f);
        V m = -x;
        m = select(m < lo, lo, m);
        m = select(m > hi, hi, m);
        return 1 / (1 + exp_narrow_v(m));
    } else {
        return 1 / (1 + exp_v(-x));
    }
}

// |x| < 0.625: Cephes' odd polynomial (float) or rational function (double), where 1 - 2 / (e^2|x| + 1)
// would lose relative precision; above, that formula. Both branches run on |x| and the sign is put back
// last: tanh is odd, and tanh(-0) stays -0. tanh_small_v is the first branch alone, for |x| = ax, z = ax^2.
constexpr double kTanhSmall = 0.625;

template <typename V>
RTV_INLINE V tanh_small_v(V ax, V z) {
    if constexpr (std::is_same_v<Element<V>, float>) {
        V p = z * -5.70498872745e-3f + 2.06390887954e-2f;
        p = p * z + -5.37397155531e-2f;
        p = p * z + 1.33314422036e-1f;
        p = p * z + -3.33332819422e-1f;
        return p * z * ax + ax;
    } else {
        V p = z * -9.64399179425052238628e-1 + -9.92877231001918586564e1;
        p = p * z + -1.61468768441708447952e3;
        V q = z + 1.12811678491632931402e2;
        q = q * z + 2.23548839060100448583e3;
        q = q * z + 4.84406305325125486048e3;
        return (ax * q + ax * (z * p)) / q;
    }
}

// The sign of x as integer lanes, and |x|.
template <typename V>
RTV_INLINE Mask<V> sign_of(V x, V& ax) {
    using I = Mask<V>;
    const I sign = bits<I>(x) & bits<I>(splat<V>(-0.0));
    ax = bits<V>(bits<I>(x) ^ sign);
    return sign;
}

template <typename V>
RTV_INLINE V tanh_v(V x) {
    using I = Mask<V>;
    V ax;
    const I sign = sign_of(x, ax);
    const V z = ax * ax;
    const auto small = ax < Element<V>(kTanhSmall);
    V y;
    if constexpr (std::is_same_v<Element<V>, float>) {
        // Beyond 9.25 (from 9.01 on, in fact) 1 - 2 / (e^2|x| + 1) rounds to 1: clamping there keeps
        // 2|x| <= 18.5 in exp_narrow_v's range and gives tanh(+-inf) = +-1.
        const V cap = splat<V>(9.25f);
        const V a = select(ax > cap, cap, ax);
        y = select(small, tanh_small_v(ax, z), 1.0f - 2.0f / (exp_narrow_v(a + a) + 1.0f));
    } else {
        y = select(small, tanh_small_v(ax, z), 1.0 - 2.0 / (exp_v(ax + ax) + 1.0));
    }
    return bits<V>(bits<I>(y) | sign);
}

// tanh_v where every lane is known to be below kTanhSmall in magnitude: the same bits without the
// exponential and the division it never selects there.
template <typename V>
RTV_INLINE V tanh_all_small_v(V x) {
    using I = Mask<V>;
    V ax;
    const I sign = sign_of(x, ax);
    return bits<V>(bits<I>(tanh_small_v(ax, ax * ax)) | sign);
}

template <typename V>
RTV_INLINE V elu_v(V x) {
    return select(x > 0, x, exp_v(x) - 1);
}

// Function objects rather than lambdas: a lambda's body is a function of its own, compiled for the baseline
// target, and would run SSE2 code inside an AVX-512 version whenever the compiler chose not to inline it.
struct Exp {
    template <typename V>
    RTV_INLINE V operator()(V x) const { return exp_v(x); }
};
struct Tanh {
    template <typename V>
    RTV_INLINE V operator()(V x) const { return tanh_v(x); }
};
struct TanhAllSmall {
    template <typename V>
    RTV_INLINE V operator()(V x) const { return tanh_all_small_v(x); }
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
    template <typename V>
    RTV_INLINE V operator()(V x) const { return x / divisor; }
};

// Applies f to n values, whole vectors first, then the remainder through a padded local vector.
template <std::size_t B, typename T, typename F>
RTV_INLINE void map(T* out, const T* in, std::size_t n, F f) {
    using V = Vec<T, B>;
    constexpr std::size_t L = kLanes<V>;
    std::size_t i = 0;
    for (; i + L <= n; i += L) store(out + i, f(load<V>(in + i)));
    if (i < n) {
        T tmp[L] = {};
        for (std::size_t k = 0; i + k < n; ++k) tmp[k] = in[i + k];
        store(tmp, f(load<V>(tmp)));
        for (std::size_t k = 0; i + k < n; ++k) out[i + k] = tmp[k];
    }
}

// Whether |in[i]| < bound for every i (false for a NaN), looked at a vector at a time.
template <std::size_t B, typename T>
RTV_INLINE bool all_below(const T* in, std::size_t n, T bound) {
    using V = Vec<T, B>;
    constexpr std::size_t L = kLanes<V>;
    using I = Mask<V>;
    I below = splat<V>(T(0)) < T(1);  // every lane set
    std::size_t i = 0;
    for (; i + L <= n; i += L) {
        V ax;
        sign_of(load<V>(in + i), ax);
        below = below & (ax < bound);
    }
    bool all = true;
    for (std::size_t k = 0; k < L; ++k) all = all && below[k] != 0;
    for (; i < n; ++i) all = all && (in[i] < bound && -in[i] < bound);
    return all;
}

// A layer's pre-activations are often all in tanh's polynomial range (in the production models, 99% of
// the steps of every tanh layer after the first): one test of the whole vector then spares every lane the
// exponential and the division, which dominate tanh's cost (on a 2-core Xeon at v4, 64 values: 54 -> 27 ns).
// The lanes compute what tanh_v would select for them, so the bits do not depend on the path.
template <std::size_t B, typename T>
RTV_INLINE void tanh_impl(T* out, const T* in, std::size_t n) {
    if (all_below<B>(in, n, T(kTanhSmall)))
        map<B>(out, in, n, TanhAllSmall{});
    else
        map<B>(out, in, n, Tanh{});
}
template <std::size_t B, typename T>
RTV_INLINE void sigmoid_impl(T* out, const T* in, std::size_t n) { map<B>(out, in, n, Sigmoid{}); }
template <std::size_t B, typename T>
RTV_INLINE void elu_impl(T* out, const T* in, std::size_t n) { map<B>(out, in, n, Elu{}); }

template <std::size_t B, typename T>
RTV_INLINE void softmax_impl(T* out, const T* in, std::size_t n) {
    map<B>(out, in, n, Exp{});
    T sum = T(0);
    for (std::size_t i = 0; i < n; ++i) sum += out[i];
    map<B>(out, out, n, DivideBy<T>{sum});
}

// --- recurrent cells -------------------------------------------------------------------------------------

// One vector of cells; `stride` is the distance between gate blocks.
template <std::size_t B, typename T>
RTV_INLINE void lstm_step(const T* g, std::size_t stride, T* cj, T* hj) {
    using V = Vec<T, B>;
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
template <std::size_t B, typename T>
RTV_INLINE void lstm_cell_impl(const T* gates, T* c, T* h, std::size_t H) {
    constexpr std::size_t L = kLanes<Vec<T, B>>;
    std::size_t j = 0;
    for (; j + L <= H; j += L) lstm_step<B>(gates + j, H, c + j, h + j);
    if (j < H) {
        T g[4 * L] = {}, cj[L] = {}, hj[L] = {};
        const std::size_t rest = H - j;
        for (std::size_t k = 0; k < rest; ++k) {
            for (std::size_t gate = 0; gate < 4; ++gate) g[gate * L + k] = gates[gate * H + j + k];
            cj[k] = c[j + k];
        }
        lstm_step<B>(g, L, cj, hj);
        for (std::size_t k = 0; k < rest; ++k) {
            c[j + k] = cj[k];
            h[j + k] = hj[k];
        }
    }
}

template <std::size_t B, typename T>
RTV_INLINE void gru_step(const T* zrj, std::size_t stride, const T* nxj, const T* nhj, T* hj) {
    using V = Vec<T, B>;
    const V z = sigmoid_v(load<V>(zrj));
    const V r = sigmoid_v(load<V>(zrj + stride));
    const V candidate = tanh_v(load<V>(nxj) + r * load<V>(nhj));
    store(hj, (1 - z) * candidate + z * load<V>(hj));
}

template <std::size_t B, typename T>
RTV_INLINE void gru_cell_impl(const T* zr, const T* nx, const T* nh, T* h, std::size_t H) {
    constexpr std::size_t L = kLanes<Vec<T, B>>;
    std::size_t j = 0;
    for (; j + L <= H; j += L) gru_step<B>(zr + j, H, nx + j, nh + j, h + j);
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
        gru_step<B>(zrj, L, nxj, nhj, hj);
        for (std::size_t k = 0; k < rest; ++k) h[j + k] = hj[k];
    }
}

// --- the bandwidth probe -----------------------------------------------------------------------------------

template <std::size_t B>
RTV_INLINE float read_sweep_impl(const float* data, std::size_t n, bool ahead) {
    // Four independent sums, so that the loop is bound by the reads and not by the adds' latency.
    using V = Vec<float, B>;
    constexpr std::size_t L = kLanes<V>;
    V a0{}, a1{}, a2{}, a3{};
    std::size_t i = 0;
    for (; i + 4 * L <= n; i += 4 * L) {
        if (ahead)
            for (std::size_t v = 0; v < 4; ++v) prefetch(data + i + v * L);
        a0 += load<V>(data + i);
        a1 += load<V>(data + i + L);
        a2 += load<V>(data + i + 2 * L);
        a3 += load<V>(data + i + 3 * L);
    }
    const V a = (a0 + a1) + (a2 + a3);
    float sum = 0.0f;
    for (std::size_t k = 0; k < L; ++k) sum += a[k];
    for (; i < n; ++i) sum += data[i];
    return sum;
}

// --- one table of functions per level -----------------------------------------------------------------------
//
// Every level is the same source instantiated at its native width B (a 64-byte vector type compiled for AVX2
// or SSE2 is not split into registers but goes through memory, which measured 3x slower than plain AVX2
// code), with the level's target attribute on the outer functions so that the always-inlined bodies are
// compiled for it. The choice of table is made once, when the module is loaded (kChoice below).
struct Table {
    const char* name;
    void (*matvec32)(float*, const float*, const float*, const float*, std::size_t, std::size_t,
                     PanelOrder) noexcept;
    void (*matvec64)(double*, const double*, const double*, const double*, std::size_t, std::size_t,
                      PanelOrder) noexcept;
    void (*tanh32)(float*, const float*, std::size_t) noexcept;
    void (*tanh64)(double*, const double*, std::size_t) noexcept;
    void (*sigmoid32)(float*, const float*, std::size_t) noexcept;
    void (*sigmoid64)(double*, const double*, std::size_t) noexcept;
    void (*elu32)(float*, const float*, std::size_t) noexcept;
    void (*elu64)(double*, const double*, std::size_t) noexcept;
    void (*softmax32)(float*, const float*, std::size_t) noexcept;
    void (*softmax64)(double*, const double*, std::size_t) noexcept;
    void (*lstm32)(const float*, float*, float*, std::size_t) noexcept;
    void (*lstm64)(const double*, double*, double*, std::size_t) noexcept;
    void (*gru32)(const float*, const float*, const float*, float*, std::size_t) noexcept;
    void (*gru64)(const double*, const double*, const double*, double*, std::size_t) noexcept;
    float (*read_sweep)(const float*, std::size_t, bool) noexcept;
};

#define RTV_ACTIVATION(TARGET, B, name, T) \
    TARGET void name(T* o, const T* i, std::size_t n) noexcept { name##_impl<B>(o, i, n); }
#define RTV_LEVEL(ns, B, TARGET, level)                                                                     \
    namespace ns {                                                                                          \
    TARGET void matvec(float* o, const float* i, const float* w, const float* x, std::size_t r,             \
                       std::size_t c, PanelOrder order) noexcept {                                          \
        matvec_impl<B>(o, i, w, x, r, c, order);                                                            \
    }                                                                                                       \
    TARGET void matvec(double* o, const double* i, const double* w, const double* x, std::size_t r,         \
                       std::size_t c, PanelOrder order) noexcept {                                          \
        matvec_impl<B>(o, i, w, x, r, c, order);                                                            \
    }                                                                                                       \
    RTV_ACTIVATION(TARGET, B, tanh, float)                                                                  \
    RTV_ACTIVATION(TARGET, B, tanh, double)                                                                 \
    RTV_ACTIVATION(TARGET, B, sigmoid, float)                                                               \
    RTV_ACTIVATION(TARGET, B, sigmoid, double)                                                              \
    RTV_ACTIVATION(TARGET, B, elu, float)                                                                   \
    RTV_ACTIVATION(TARGET, B, elu, double)                                                                  \
    RTV_ACTIVATION(TARGET, B, softmax, float)                                                               \
    RTV_ACTIVATION(TARGET, B, softmax, double)                                                              \
    TARGET void lstm(const float* g, float* c, float* h, std::size_t n) noexcept { lstm_cell_impl<B>(g, c, h, n); } \
    TARGET void lstm(const double* g, double* c, double* h, std::size_t n) noexcept {                       \
        lstm_cell_impl<B>(g, c, h, n);                                                                      \
    }                                                                                                       \
    TARGET void gru(const float* zr, const float* nx, const float* nh, float* h, std::size_t n) noexcept {  \
        gru_cell_impl<B>(zr, nx, nh, h, n);                                                                 \
    }                                                                                                       \
    TARGET void gru(const double* zr, const double* nx, const double* nh, double* h, std::size_t n) noexcept { \
        gru_cell_impl<B>(zr, nx, nh, h, n);                                                                 \
    }                                                                                                       \
    TARGET float sweep(const float* d, std::size_t n, bool ahead) noexcept { return read_sweep_impl<B>(d, n, ahead); } \
    constexpr Table table = {level,   matvec, matvec, tanh, tanh, sigmoid, sigmoid, elu, elu, softmax,     \
                             softmax, lstm,   lstm,   gru,  gru,  sweep};                                   \
    }

#ifdef RTV_X86_DISPATCH
RTV_LEVEL(v4, 64, __attribute__((target("arch=x86-64-v4"))), "x86-64-v4")
RTV_LEVEL(v3, 32, __attribute__((target("arch=x86-64-v3"))), "x86-64-v3")
RTV_LEVEL(v1, 16, , "x86-64")
constexpr const Table* kLevels[] = {&v4::table, &v3::table, &v1::table};  // best first

std::uint64_t xcr0() {
    std::uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (std::uint64_t(hi) << 32) | lo;
}

// Whether this CPU (and the operating system, which must save the wider registers) runs kLevels[i]: the
// feature lists of the x86-64 psABI levels, read with cpuid.
bool supported(std::size_t i) {
    if (i == 2) return true;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const auto has = [](unsigned reg, int bit) { return ((reg >> bit) & 1u) != 0; };
    // v2 (SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B), then v3's AVX, FMA, MOVBE, F16C, OSXSAVE
    const bool leaf1 = has(c, 0) && has(c, 9) && has(c, 19) && has(c, 20) && has(c, 23) && has(c, 13) &&
                       has(c, 28) && has(c, 12) && has(c, 22) && has(c, 29) && has(c, 27);
    if (!leaf1 || (xcr0() & 0x6) != 0x6) return false;  // SSE and AVX state enabled by the OS
    unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0, ae = 0, be = 0, ce = 0, de = 0;
    if (!__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7) || !__get_cpuid(0x80000001u, &ae, &be, &ce, &de))
        return false;
    const bool v3 = has(b7, 3) && has(b7, 5) && has(b7, 8) && has(ce, 0) && has(ce, 5);  // BMI1 AVX2 BMI2 LAHF LZCNT
    if (i == 1) return v3;
    // AVX-512 F, DQ, CD, BW, VL, and the opmask and upper ZMM state enabled by the OS
    return v3 && has(b7, 16) && has(b7, 17) && has(b7, 28) && has(b7, 30) && has(b7, 31) &&
           (xcr0() & 0xE6) == 0xE6;
}
#else
// One level: the vector width every target with SIMD has (NEON on aarch64), or plain lanes (simd.h).
RTV_LEVEL(portable, 16, , "portable")
constexpr const Table* kLevels[] = {&portable::table};
bool supported(std::size_t) { return true; }
#endif
#undef RTV_LEVEL
#undef RTV_ACTIVATION

constexpr std::size_t kLevelCount = sizeof(kLevels) / sizeof(kLevels[0]);
constexpr const char* kDispatchVariable = "RTV_DISPATCH";

struct Choice {
    const Table* table;
    std::string problem;  // empty unless RTV_DISPATCH asked for something this build or CPU cannot run
};

// The best level the CPU supports, or the one RTV_DISPATCH names (bit-identity tests force each in turn).
// A request that cannot be honoured falls back to the best level and says so in `problem`, which the
// Python module turns into an ImportError: a run must never report a level it did not use.
Choice choose() {
    std::size_t best = 0;
    while (!supported(best)) ++best;  // the last level is the baseline, always supported
    const char* asked = std::getenv(kDispatchVariable);
    if (asked == nullptr || *asked == '\0') return {kLevels[best], {}};
    std::string names;
    for (std::size_t i = 0; i < kLevelCount; ++i) {
        if (std::strcmp(asked, kLevels[i]->name) == 0) {
            if (supported(i)) return {kLevels[i], {}};
            return {kLevels[best], std::string(kDispatchVariable) + "=" + asked + ": this CPU does not run that level"};
        }
        names += (i ? ", " : "") + std::string(kLevels[i]->name);
    }
    return {kLevels[best], std::string(kDispatchVariable) + "=" + asked + ": not a level of this build (" + names + ")"};
}

// Initialised when the module is loaded, before any caller can run (nothing calls the kernels from a static
// initialiser); constant afterwards.
const Choice kChoice = choose();

}  // namespace

void matvec(float* out, const float* init, const float* packed, const float* x, std::size_t rows,
            std::size_t cols, PanelOrder order) noexcept {
    kChoice.table->matvec32(out, init, packed, x, rows, cols, order);
}
void matvec(double* out, const double* init, const double* packed, const double* x, std::size_t rows,
            std::size_t cols, PanelOrder order) noexcept {
    kChoice.table->matvec64(out, init, packed, x, rows, cols, order);
}
void tanh(float* out, const float* in, std::size_t n) noexcept { kChoice.table->tanh32(out, in, n); }
void tanh(double* out, const double* in, std::size_t n) noexcept { kChoice.table->tanh64(out, in, n); }
void sigmoid(float* out, const float* in, std::size_t n) noexcept { kChoice.table->sigmoid32(out, in, n); }
void sigmoid(double* out, const double* in, std::size_t n) noexcept { kChoice.table->sigmoid64(out, in, n); }
void elu(float* out, const float* in, std::size_t n) noexcept { kChoice.table->elu32(out, in, n); }
void elu(double* out, const double* in, std::size_t n) noexcept { kChoice.table->elu64(out, in, n); }
void softmax(float* out, const float* in, std::size_t n) noexcept { kChoice.table->softmax32(out, in, n); }
void softmax(double* out, const double* in, std::size_t n) noexcept { kChoice.table->softmax64(out, in, n); }
void lstm_cell(const float* gates, float* c, float* h, std::size_t hidden) noexcept {
    kChoice.table->lstm32(gates, c, h, hidden);
}
void lstm_cell(const double* gates, double* c, double* h, std::size_t hidden) noexcept {
    kChoice.table->lstm64(gates, c, h, hidden);
}
void gru_cell(const float* zr, const float* nx, const float* nh, float* h, std::size_t hidden) noexcept {
    kChoice.table->gru32(zr, nx, nh, h, hidden);
}
void gru_cell(const double* zr, const double* nx, const double* nh, double* h, std::size_t hidden) noexcept {
    kChoice.table->gru64(zr, nx, nh, h, hidden);
}
float read_sweep(const float* data, std::size_t n, bool ahead) noexcept {
    return kChoice.table->read_sweep(data, n, ahead);
}

const char* simd_level() noexcept { return kChoice.table->name; }

std::vector<SimdLevel> simd_levels() {
    std::vector<SimdLevel> levels;
    for (std::size_t i = 0; i < kLevelCount; ++i) levels.push_back({kLevels[i]->name, supported(i)});
    return levels;
}

const char* dispatch_variable() noexcept { return kDispatchVariable; }

const char* dispatch_problem() noexcept { return kChoice.problem.empty() ? nullptr : kChoice.problem.c_str(); }

}  // namespace rtv::kernels
