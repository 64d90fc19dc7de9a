// Opt-in: replaces the program's global operator new / delete with versions that count what is requested
// (rtv::heap, see heap.hpp), so that check_golden() and rtv::heap::measure() report heap figures.
//
// Include this header in EXACTLY ONE .cpp file of a test program (never in a plugin, never in a header):
// the replaceable allocation functions may be defined once per program. With CMake, linking the target
// rtneural_verifier::heap_counter compiles that one file for you.
//
// What is counted: every form of operator new / new[] (plain, nothrow, aligned) called by any code linked
// into the program, RTNeural's std::vector storage included. What is not: memory taken with malloc
// directly (Eigen's aligned_malloc does so for its dynamic matrices), and memory a shared library
// allocates with its own operator new when it does not bind to the program's.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

#include "heap.hpp"

#if defined(_MSC_VER)
#include <malloc.h>
#endif

namespace rtv {
namespace heap {
namespace count_heap_detail {

inline void note(std::size_t size) noexcept {
    counters().bytes.fetch_add(size, std::memory_order_relaxed);
    counters().allocations.fetch_add(1, std::memory_order_relaxed);
}

inline void* plain(std::size_t size) noexcept {
    note(size);
    return std::malloc(size == 0 ? 1 : size);
}

inline void* aligned(std::size_t size, std::align_val_t alignment) noexcept {
    note(size);
    std::size_t align = static_cast<std::size_t>(alignment);
    if (align < sizeof(void*)) align = sizeof(void*);
#if defined(_MSC_VER)
    return _aligned_malloc(size == 0 ? 1 : size, align);
#else
    void* p = nullptr;
    return posix_memalign(&p, align, size == 0 ? 1 : size) == 0 ? p : nullptr;
#endif
}

inline void release_aligned(void* p) noexcept {
#if defined(_MSC_VER)
    _aligned_free(p);
#else
    std::free(p);
#endif
}

inline void* or_throw(void* p) {
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

// Marks the counters live before main(): heap::counting() tells a report "measured" from "not measured".
struct Installer {
    Installer() noexcept { counters().installed.store(true, std::memory_order_relaxed); }
};
static const Installer installer;

}  // namespace count_heap_detail
}  // namespace heap
}  // namespace rtv

// A short name for the definitions below; this header is compiled into one translation unit only.
namespace rtv_heap = rtv::heap::count_heap_detail;

void* operator new(std::size_t size) { return rtv_heap::or_throw(rtv_heap::plain(size)); }
void* operator new[](std::size_t size) { return rtv_heap::or_throw(rtv_heap::plain(size)); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return rtv_heap::plain(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return rtv_heap::plain(size); }
void* operator new(std::size_t size, std::align_val_t a) { return rtv_heap::or_throw(rtv_heap::aligned(size, a)); }
void* operator new[](std::size_t size, std::align_val_t a) { return rtv_heap::or_throw(rtv_heap::aligned(size, a)); }
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
    return rtv_heap::aligned(size, a);
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
    return rtv_heap::aligned(size, a);
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { rtv_heap::release_aligned(p); }
void operator delete[](void* p, std::align_val_t) noexcept { rtv_heap::release_aligned(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { rtv_heap::release_aligned(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { rtv_heap::release_aligned(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { rtv_heap::release_aligned(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { rtv_heap::release_aligned(p); }
