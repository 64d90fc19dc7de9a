// rtneural_verifier/denormals.hpp: flush-to-zero around a timed region, as a plugin's audio callback sets it
// (JUCE's ScopedNoDenormals and the like), and put back afterwards.
//
// Hidden states decaying towards zero after the signal stops become subnormal numbers, and on x86 every
// operation on a subnormal takes a slow microcoded path: a model can be several times slower on silence than
// on signal. FTZ (results that would be subnormal become zero) and DAZ (subnormal inputs are read as zero) in
// MXCSR remove that path. They change numbers, so they are switched on around a timed region only, and only
// when asked.
//
// Used by the engine's and the RTNeural backend's time_forward and by latency.hpp. x86 (SSE) only: on any
// other CPU kFlushToZeroAvailable is false and ScopedFlushToZero changes nothing; callers report the figure
// as not measured rather than pretending.
#pragma once

#if defined(__SSE__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 1)
#include <xmmintrin.h>
#define RTV_FLUSH_TO_ZERO_X86 1
#else
#define RTV_FLUSH_TO_ZERO_X86 0
#endif

namespace rtv {

constexpr bool kFlushToZeroAvailable = RTV_FLUSH_TO_ZERO_X86 != 0;

#if RTV_FLUSH_TO_ZERO_X86
// MXCSR bit 15 (flush to zero) and bit 6 (denormals are zero); Intel SDM vol. 1, 10.2.3.
constexpr unsigned kMxcsrFlushToZero = 0x8000u;
constexpr unsigned kMxcsrDenormalsAreZero = 0x0040u;
#endif

// Whether this thread runs with both FTZ and DAZ set (false where kFlushToZeroAvailable is false).
inline bool flush_to_zero_active() noexcept {
#if RTV_FLUSH_TO_ZERO_X86
    const unsigned both = kMxcsrFlushToZero | kMxcsrDenormalsAreZero;
    return (_mm_getcsr() & both) == both;
#else
    return false;
#endif
}

// Sets FTZ and DAZ for this thread while it lives when `on` (and the CPU has them); restores the whole
// control word the thread had on destruction, so a caller already running with FTZ keeps it.
class ScopedFlushToZero {
public:
    explicit ScopedFlushToZero(bool on) noexcept {
#if RTV_FLUSH_TO_ZERO_X86
        saved_ = _mm_getcsr();
        if (on) _mm_setcsr(saved_ | kMxcsrFlushToZero | kMxcsrDenormalsAreZero);
#else
        (void)on;
#endif
    }
    ~ScopedFlushToZero() {
#if RTV_FLUSH_TO_ZERO_X86
        _mm_setcsr(saved_);
#endif
    }
    ScopedFlushToZero(const ScopedFlushToZero&) = delete;
    ScopedFlushToZero& operator=(const ScopedFlushToZero&) = delete;

private:
#if RTV_FLUSH_TO_ZERO_X86
    unsigned saved_ = 0;
#endif
};

}  // namespace rtv
