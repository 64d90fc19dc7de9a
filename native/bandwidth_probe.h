// The read bandwidth that sets the latency floor: one forward step must read every weight once, so no
// engine can run a step faster than weight bytes / the rate one core reads an array of that size.
//
// The probe reads a buffer of `bytes` front to back with the kernels' vector width, `repeats` times each
// with and without the kernels' software prefetch (one untimed pass first, so that the buffer sits in the
// cache level its size fits, as a model's weights do when it runs step after step). It returns the higher
// of the two median rates in bytes per second: the floor is the faster way to read, not the one the
// engine happens to use.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

#include "aligned_buffer.h"
#include "kernels.h"

namespace rtv {

inline double read_bandwidth(std::size_t bytes, std::size_t repeats) {
    const std::size_t n = std::max<std::size_t>(bytes / sizeof(float), 64);
    AlignedBuffer<float> data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<float>(i % 7) * 0.125f;
    const std::size_t passes = std::max<std::size_t>(repeats, 1);
    std::vector<double> plain(passes), ahead(passes);
    volatile float sink = kernels::read_sweep(data.data(), n, true);
    auto time = [&](bool prefetch) {
        const auto start = std::chrono::steady_clock::now();
        sink = kernels::read_sweep(data.data(), n, prefetch);
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    for (std::size_t i = 0; i < passes; ++i) {
        plain[i] = time(false);
        ahead[i] = time(true);
    }
    (void)sink;
    auto median = [](std::vector<double>& v) {
        std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
        return v[v.size() / 2];
    };
    return static_cast<double>(n * sizeof(float)) / std::min(median(plain), median(ahead));
}

}  // namespace rtv
