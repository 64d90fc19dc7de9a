// Prints a check_golden result as key=value lines (what tests/test_golden_cpp.py reads) and returns the
// program's exit status: 0 passed, 1 failed.
#pragma once

#include <cstdio>

#include <rtneural_verifier/golden.hpp>

inline int report(const rtv::GoldenResult& r, const rtv::heap::Usage& load) {
    std::printf("passed=%d\n", r.passed ? 1 : 0);
    std::printf("worst_abs_error=%.17g\n", r.worst_abs_error);
    std::printf("worst_pattern=%s\nworst_case=%s\n", r.worst_pattern.c_str(), r.worst_case.c_str());
    std::printf("worst_step=%zu\nworst_output=%zu\n", r.worst_step, r.worst_output);
    std::printf("elements=%zu\nfailing_elements=%zu\n", r.elements, r.failing_elements);
    std::printf("forward_calls=%zu\nforward_ns_p50=%.0f\nforward_ns_p99=%.0f\n", r.forward_calls,
                r.forward_ns_p50, r.forward_ns_p99);
    std::printf("heap_counted=%d\n", r.heap_counted ? 1 : 0);
    std::printf("heap_bytes_load=%llu\nheap_allocations_load=%llu\nheap_held_load=%lld\n",
                static_cast<unsigned long long>(load.bytes), static_cast<unsigned long long>(load.allocations),
                static_cast<long long>(load.held));
    std::printf("heap_bytes_run=%llu\nheap_allocations_run=%llu\nheap_held_run=%lld\n",
                static_cast<unsigned long long>(r.heap_bytes), static_cast<unsigned long long>(r.heap_allocations),
                static_cast<long long>(r.heap_held));
    std::printf("message=%s\n", r.message.c_str());
    return r.passed ? 0 : 1;
}
