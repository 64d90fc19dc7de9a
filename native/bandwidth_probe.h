// The read bandwidth that sets the latency floor: one forward step must read every weight once, so no
// engine can run a step faster than weight bytes / the rate one core reads an array of that size.
//
// The probe reads a buffer of `bytes` with the kernels' vector width in three ways, `repeats` passes each
// (one untimed pass first, so that the buffer sits in the cache level its size fits, as a model's weights
// do when it runs step after step): front to back with and without software prefetch, and alternating
// direction from pass to pass, as the matrices read their panels (PackedMatrix::apply), which keeps part of
// a buffer larger than L2 cached from one pass to the next. It returns the highest of the three median
// rates in bytes per second: the floor is the fastest way to read, not the one the engine happens to use.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

#include "aligned_buffer.h"
#include "kernels.h"

namespace rtv {

// Chunks the alternating read goes through last to first, each front to back: about a panel of a
// mid-sized matrix (a column of a float32 panel is 256 bytes).
constexpr std::size_t kProbeChunkFloats = 16384;

inline double read_bandwidth(std::size_t bytes, std::size_t repeats) {
    const std::size_t n = std::max<std::size_t>(bytes / sizeof(float), 64);
    AlignedBuffer<float> data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<float>(i % 7) * 0.125f;
    const std::size_t passes = std::max<std::size_t>(repeats, 1);
    std::vector<double> plain(passes), ahead(passes), alternating(passes);
    volatile float sink = kernels::read_sweep(data.data(), n, true);
    auto backwards = [&] {
        float sum = 0.0f;
        for (std::size_t end = n; end > 0;) {
            const std::size_t start = end > kProbeChunkFloats ? end - kProbeChunkFloats : 0;
            sum += kernels::read_sweep(data.data() + start, end - start, false);
            end = start;
        }
        return sum;
    };
    auto time = [&](auto&& sweep) {
        const auto start = std::chrono::steady_clock::now();
        sink = sweep();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    auto forward = [&](bool prefetch) {
        return [&, prefetch] { return kernels::read_sweep(data.data(), n, prefetch); };
    };
    for (std::size_t i = 0; i < passes; ++i) {
        plain[i] = time(forward(false));
        ahead[i] = time(forward(true));
    }
    // The loop above ended front to back, so this series starts back to front.
    for (std::size_t i = 0; i < passes; ++i)
        alternating[i] = i % 2 == 0 ? time(backwards) : time(forward(false));
    (void)sink;
    auto median = [](std::vector<double>& v) {
        std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
        return v[v.size() / 2];
    };
    return static_cast<double>(n * sizeof(float)) /
           std::min({median(plain), median(ahead), median(alternating)});
}

}  // namespace rtv
