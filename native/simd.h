// The small vector layer kernels.cpp is written on: Vec<T, B> is B bytes of T with element-wise arithmetic,
// comparisons that yield an integer mask of the same shape, select(mask, a, b), and bit casts. Two
// implementations, chosen by the preprocessor:
// * GCC and Clang (any target): their vector extension (vector_size). The compiler maps a width the target
//   has onto its registers: SSE2/AVX2/AVX-512 on x86-64, NEON on aarch64.
// * Every other compiler (MSVC), or RTV_PORTABLE_VECTORS defined: a struct of B / sizeof(T) lanes whose
//   operators are plain loops over the lanes, which optimisers vectorise; standard C++17 only.
// Both compute each lane with one IEEE operation of T, exactly as scalar code would, so the numbers do not
// depend on which one is compiled (nor on B); tests/test_portability.py compares the two bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(_MSC_VER) && !defined(__clang__)
#define RTV_INLINE __forceinline
#else
#define RTV_INLINE inline __attribute__((always_inline))
#endif

#if (defined(__GNUC__) || defined(__clang__)) && !defined(RTV_PORTABLE_VECTORS)
#define RTV_VECTOR_EXTENSIONS 1
#endif

namespace rtv::simd {

// The signed integer of T's width: the lane type of a comparison's result.
template <typename T>
using LaneInt = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;

#ifdef RTV_VECTOR_EXTENSIONS

template <typename T, std::size_t B>
struct VecOf {
    typedef T type __attribute__((vector_size(B)));
};
template <typename T, std::size_t B>
using Vec = typename VecOf<T, B>::type;

template <typename M, typename V>
RTV_INLINE V select(const M& mask, const V& yes, const V& no) {
    return mask ? yes : no;
}

#else

// Lanes in a plain array. Operators are hidden friends, so a scalar operand (1, 0.5f) converts to T as it
// does for a vector-extension type.
template <typename T, std::size_t L>
struct Lanes {
    T lane[L];

    T& operator[](std::size_t k) { return lane[k]; }
    const T& operator[](std::size_t k) const { return lane[k]; }

    template <typename F>
    static RTV_INLINE Lanes each(F f) {
        Lanes r;
        for (std::size_t k = 0; k < L; ++k) r.lane[k] = f(k);
        return r;
    }
    friend RTV_INLINE Lanes operator-(const Lanes& a) {
        return each([&](std::size_t k) { return static_cast<T>(-a.lane[k]); });
    }

#define RTV_LANES_OP(op)                                                                         \
    friend RTV_INLINE Lanes operator op(const Lanes& a, const Lanes& b) {                        \
        return each([&](std::size_t k) { return static_cast<T>(a.lane[k] op b.lane[k]); });      \
    }                                                                                            \
    friend RTV_INLINE Lanes operator op(const Lanes& a, T s) {                                   \
        return each([&](std::size_t k) { return static_cast<T>(a.lane[k] op s); });              \
    }                                                                                            \
    friend RTV_INLINE Lanes operator op(T s, const Lanes& b) {                                   \
        return each([&](std::size_t k) { return static_cast<T>(s op b.lane[k]); });              \
    }                                                                                            \
    RTV_INLINE Lanes& operator op##=(const Lanes& b) { return *this = *this op b; }
    RTV_LANES_OP(+)
    RTV_LANES_OP(-)
    RTV_LANES_OP(*)
    RTV_LANES_OP(/)
#undef RTV_LANES_OP

    // Integer lanes only (the masks and exponent fields): shifts by a scalar, bitwise logic.
    friend RTV_INLINE Lanes operator<<(const Lanes& a, int s) {
        return each([&](std::size_t k) { return static_cast<T>(a.lane[k] << s); });
    }
    friend RTV_INLINE Lanes operator>>(const Lanes& a, int s) {
        return each([&](std::size_t k) { return static_cast<T>(a.lane[k] >> s); });
    }
    friend RTV_INLINE Lanes operator&(const Lanes& a, const Lanes& b) {
        return each([&](std::size_t k) { return static_cast<T>(a.lane[k] & b.lane[k]); });
    }
    friend RTV_INLINE Lanes operator|(const Lanes& a, const Lanes& b) {
        return each([&](std::size_t k) { return static_cast<T>(a.lane[k] | b.lane[k]); });
    }
    friend RTV_INLINE Lanes operator^(const Lanes& a, const Lanes& b) {
        return each([&](std::size_t k) { return static_cast<T>(a.lane[k] ^ b.lane[k]); });
    }

    // Comparisons yield all-ones / zero integer lanes, as the vector extension's do.
    using Mask = Lanes<LaneInt<T>, L>;
#define RTV_LANES_CMP(op)                                                                        \
    friend RTV_INLINE Mask operator op(const Lanes& a, const Lanes& b) {                         \
        return Mask::each([&](std::size_t k) { return LaneInt<T>(a.lane[k] op b.lane[k] ? -1 : 0); }); \
    }                                                                                            \
    friend RTV_INLINE Mask operator op(const Lanes& a, T s) {                                    \
        return Mask::each([&](std::size_t k) { return LaneInt<T>(a.lane[k] op s ? -1 : 0); });   \
    }
    RTV_LANES_CMP(<)
    RTV_LANES_CMP(>)
#undef RTV_LANES_CMP
};

template <typename T, std::size_t B>
using Vec = Lanes<T, B / sizeof(T)>;

template <typename M, typename V>
RTV_INLINE V select(const M& mask, const V& yes, const V& no) {
    return V::each([&](std::size_t k) { return mask[k] ? yes[k] : no[k]; });
}

#endif

template <typename V>
using Mask = decltype(V{} < V{});
template <typename V>
using Element = std::remove_const_t<std::remove_reference_t<decltype(V{}[0])>>;
template <typename V>
constexpr std::size_t kLanes = sizeof(V) / sizeof(Element<V>);

// Unaligned by construction (memcpy): activations, biases and layer outputs have no alignment promise.
template <typename V, typename T>
RTV_INLINE V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
}
template <typename T, typename V>
RTV_INLINE void store(T* p, const V& v) {
    std::memcpy(p, &v, sizeof(V));
}
template <typename To, typename From>
RTV_INLINE To bits(const From& v) {
    static_assert(sizeof(To) == sizeof(From));
    To out;
    std::memcpy(&out, &v, sizeof(To));
    return out;
}
template <typename V>
RTV_INLINE V splat(Element<V> x) {
    V v;
    for (std::size_t k = 0; k < kLanes<V>; ++k) v[k] = x;
    return v;
}

// A hint to bring the cache line at p into L1 for reading; nothing where the compiler has no such hint.
template <typename T>
RTV_INLINE void prefetch(const T* p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0, 3);
#else
    (void)p;
#endif
}

}  // namespace rtv::simd
