// Heap accounting shared by golden.hpp and the opt-in counting operator new (count_heap.hpp).
//
// The counters only move when count_heap.hpp is compiled into exactly one translation unit of the program
// (or the CMake target rtneural_verifier::heap_counter is linked, which does that): counting needs the
// program's global operator new replaced, which a header cannot do for the whole program by itself, and a
// plugin's test program must be able to leave its allocator alone. Without it `heap::counting()` is false
// and golden.hpp reports the heap figures as not measured rather than as zero.
#pragma once

#include <atomic>
#include <cstdint>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define RTV_HEAP_HAS_MALLINFO2 1
#endif

namespace rtv {
namespace heap {

struct Counters {
    std::atomic<std::uint64_t> bytes{0};        // requested by every operator new since start, never reduced
    std::atomic<std::uint64_t> allocations{0};  // calls of any operator new form
    std::atomic<bool> installed{false};         // set by count_heap.hpp's static initialiser
};

// Constant-initialised (std::atomic's constructors are constexpr), so an operator new running before main
// finds it ready.
inline Counters& counters() noexcept {
    static Counters instance;
    return instance;
}

inline bool counting() noexcept { return counters().installed.load(std::memory_order_relaxed); }

// Bytes the C allocator has handed out and not taken back (all arenas and mmapped chunks), or -1 where
// that is unknown (not glibc >= 2.33). Needs no replaced operator new, and sees memory taken with malloc
// directly, as Eigen's dynamic matrices are (which the operator new counters miss).
inline std::int64_t malloc_in_use() noexcept {
#if defined(RTV_HEAP_HAS_MALLINFO2)
    const struct mallinfo2 info = mallinfo2();
    return static_cast<std::int64_t>(info.uordblks + info.hblkhd);
#else
    return -1;
#endif
}

struct Usage {
    std::uint64_t bytes = 0;        // operator new bytes requested (count_heap.hpp compiled in, else 0)
    std::uint64_t allocations = 0;  // operator new calls (likewise)
    // Growth of the C heap still held at the end (malloc_in_use): what a loaded model keeps, Eigen's
    // matrices included; -1 where the allocator cannot tell. Other threads' allocations count too.
    std::int64_t held = -1;
};

// Absolute figures now; `held` is malloc_in_use() itself.
inline Usage snapshot() noexcept {
    return {counters().bytes.load(std::memory_order_relaxed), counters().allocations.load(std::memory_order_relaxed),
            malloc_in_use()};
}

inline Usage since(const Usage& start) noexcept {
    const Usage now = snapshot();
    const std::int64_t held = (now.held < 0 || start.held < 0) ? -1 : now.held - start.held;
    return {now.bytes - start.bytes, now.allocations - start.allocations, held};
}

// Bytes and calls of operator new while `f()` runs, and the C heap it left held (all threads). E.g. around
// loading a model:
//   auto usage = rtv::heap::measure([&] { model = RTNeural::json_parser::parseJson<float>(stream); });
template <typename F>
Usage measure(F&& f) {
    const Usage start = snapshot();
    f();
    return since(start);
}

}  // namespace heap
}  // namespace rtv
