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

struct Usage {
    std::uint64_t bytes = 0;
    std::uint64_t allocations = 0;
};

inline Usage snapshot() noexcept {
    return {counters().bytes.load(std::memory_order_relaxed),
            counters().allocations.load(std::memory_order_relaxed)};
}

inline Usage since(const Usage& start) noexcept {
    const Usage now = snapshot();
    return {now.bytes - start.bytes, now.allocations - start.allocations};
}

// Bytes and calls of operator new while `f()` runs (all threads). E.g. around loading a model:
//   auto usage = rtv::heap::measure([&] { model = RTNeural::json_parser::parseJson<float>(stream); });
template <typename F>
Usage measure(F&& f) {
    const Usage start = snapshot();
    f();
    return since(start);
}

}  // namespace heap
}  // namespace rtv
