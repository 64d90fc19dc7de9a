// rtneural_verifier/latency.hpp: times a model's forward() the way `verify`'s latency check times the engine,
// in a plugin's own build (its ModelT, its compiler flags), and writes the figures for
// `verify --plugin-latency FILE` (the file format: docs/golden.md, schemas/plugin-latency.schema.json).
//
//   #include <rtneural_verifier/latency.hpp>
//   auto latency = rtv::time_latency(model);          // or time_latency(model, in_size) without getInSize()
//   std::string error;
//   if (!rtv::write_latency_json(latency, "latency/EmotionRecognizer.json", "EmotionRecognizer",
//                                "ModelT, -O3 -mavx2 -mfma", &error)) { ... }
//
// `model` is anything with reset() and forward(const T*) (RTNeural's Model<T> and ModelT both fit). Four call
// patterns, each timed per forward() with steady_clock (p50, p99, max in ns):
//   frame:        reset() before every step, random inputs in [-1, 1];
//   stream:       state carried, random inputs;
//   silence:      `warmup` untimed steps of random signal, then `steps` timed steps of exact zeros, state
//                 carried: hidden states decay after the signal, and may become subnormal (the slow case);
//   silence_ftz:  the same with flush-to-zero set around the loop (denormals.hpp), as a plugin running under
//                 ScopedNoDenormals sees it; not measured where the CPU has no such switch.
// Everything is allocated before the timed loops; time_latency never throws (a failure is `ok == false` and
// a one-line `message`). The same input pattern (InputPattern) feeds the engine's Model.time_forward.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <locale>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "denormals.hpp"

namespace rtv {

// The plugin-latency file format this header writes (its "format_version").
constexpr int kPluginLatencyFormatVersion = 1;

// The inputs of a timing run: a pool of random rows (uniform [-1, 1] from `seed`, as the engine draws them)
// and one row of exact zeros. Step i (counting warm-up steps) reads a random row while i < signal_steps, the
// zero row afterwards; signal_steps = kAllSignal never stops the signal.
template <typename T>
class InputPattern {
public:
    static constexpr std::size_t kAllSignal = static_cast<std::size_t>(-1);
    static constexpr std::size_t kPool = 1024;

    InputPattern(std::size_t width, std::size_t total_steps, std::uint64_t seed, std::size_t signal_steps)
        : width_(width),
          pool_(std::min(kPool, std::max<std::size_t>(std::min(total_steps, signal_steps), 1))),
          signal_steps_(signal_steps),
          rows_((pool_ + 1) * width, T(0)) {
        std::mt19937_64 rng(seed);
        std::uniform_real_distribution<double> uniform(-1.0, 1.0);
        for (std::size_t i = 0; i < pool_ * width; ++i) rows_[i] = static_cast<T>(uniform(rng));
    }

    const T* row(std::size_t step) const noexcept {
        return step < signal_steps_ ? rows_.data() + (step % pool_) * width_ : rows_.data() + pool_ * width_;
    }

private:
    std::size_t width_;
    std::size_t pool_;
    std::size_t signal_steps_;
    std::vector<T> rows_;
};

struct LatencyOptions {
    std::size_t steps = 2000;  // timed steps per pattern (verify's default --timing-steps)
    std::size_t warmup = 200;  // untimed steps before them; the signal before the silence
    std::uint64_t seed = 0;
};

struct LatencyFigure {
    bool measured = false;
    std::size_t steps = 0;
    double p50_ns = 0.0;
    double p99_ns = 0.0;
    double max_ns = 0.0;
};

struct LatencyResult {
    bool ok = false;
    std::string message;  // one line: the figures, or why there are none
    std::string dtype;    // "float32" | "float64"
    std::size_t warmup = 0;
    LatencyFigure frame, stream, silence, silence_ftz;
};

namespace latency_detail {

template <typename M, typename = void>
struct has_in_size : std::false_type {};
template <typename M>
struct has_in_size<M, std::void_t<decltype(std::declval<const M&>().getInSize())>> : std::true_type {};

// Nearest rank over every sample (all kept), as golden.hpp's percentile.
inline double percentile(std::vector<std::int64_t>& samples, double q) {
    if (samples.empty()) return 0.0;
    const double rank = q * static_cast<double>(samples.size() - 1) + 0.5;
    const std::size_t index = std::min(samples.size() - 1, static_cast<std::size_t>(rank));
    std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(index), samples.end());
    return static_cast<double>(samples[index]);
}

template <typename T>
class AlignedInput {
public:
    explicit AlignedInput(std::size_t n)
        : n_(std::max<std::size_t>(n, 1)), data_(static_cast<T*>(::operator new(n_ * sizeof(T), std::align_val_t{64}))) {}
    ~AlignedInput() { ::operator delete(data_, std::align_val_t{64}); }
    AlignedInput(const AlignedInput&) = delete;
    AlignedInput& operator=(const AlignedInput&) = delete;
    T* data() noexcept { return data_; }

private:
    std::size_t n_;
    T* data_;
};

// One pattern: `times` holds options.steps slots already; the copy into the aligned input (what a plugin
// does once per block) and any reset happen outside the timed span.
template <typename T, typename Model>
LatencyFigure time_pattern(Model& model, std::size_t in_size, const LatencyOptions& options, bool reset_each,
                           std::size_t signal_steps, bool flush_to_zero, std::vector<std::int64_t>& times) {
    const InputPattern<T> inputs(in_size, options.warmup + options.steps, options.seed, signal_steps);
    AlignedInput<T> input(in_size);
    {
        const ScopedFlushToZero ftz(flush_to_zero);
        model.reset();
        for (std::size_t i = 0; i < options.warmup + options.steps; ++i) {
            if (reset_each) model.reset();
            std::copy_n(inputs.row(i), in_size, input.data());
            const auto start = std::chrono::steady_clock::now();
            model.forward(input.data());
            const auto stop = std::chrono::steady_clock::now();
            if (i >= options.warmup)
                times[i - options.warmup] = std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count();
        }
    }
    model.reset();
    LatencyFigure figure;
    figure.measured = true;
    figure.steps = options.steps;
    figure.max_ns = static_cast<double>(*std::max_element(times.begin(), times.end()));
    figure.p50_ns = percentile(times, 0.50);
    figure.p99_ns = percentile(times, 0.99);
    return figure;
}

inline std::string microseconds(double ns) {
    std::ostringstream out;
    out.imbue(std::locale::classic());
    out.setf(std::ios::fixed);
    out.precision(2);
    out << ns / 1000.0;
    return out.str();
}

inline std::string figure_text(const char* name, const LatencyFigure& f) {
    return std::string(name) + " " + (f.measured ? microseconds(f.p50_ns) + "/" + microseconds(f.p99_ns) : "n/a");
}

template <typename Model>
LatencyResult run(Model& model, std::size_t in_size, const LatencyOptions& options) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(model.getOutputs())>>;
    static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value,
                  "time_latency: getOutputs() must return const float* or const double*");
    LatencyResult result;
    result.dtype = std::is_same<T, float>::value ? "float32" : "float64";
    result.warmup = options.warmup;
    if (options.steps == 0 || in_size == 0) {
        result.message = "FAIL: nothing to time (steps and the input width must be at least 1)";
        return result;
    }
    std::vector<std::int64_t> times(options.steps);
    const std::size_t all = InputPattern<T>::kAllSignal;
    result.frame = time_pattern<T>(model, in_size, options, true, all, false, times);
    result.stream = time_pattern<T>(model, in_size, options, false, all, false, times);
    result.silence = time_pattern<T>(model, in_size, options, false, options.warmup, false, times);
    if (kFlushToZeroAvailable)
        result.silence_ftz = time_pattern<T>(model, in_size, options, false, options.warmup, true, times);
    result.ok = true;
    result.message = "p50/p99 us: " + figure_text("frame", result.frame) + ", " +
                     figure_text("stream", result.stream) + ", " + figure_text("silence", result.silence) + ", " +
                     figure_text("silence with flush-to-zero", result.silence_ftz);
    return result;
}

inline std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
            out += escaped;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

inline std::string json_figure(const LatencyFigure& f) {
    if (!f.measured) return "null";
    std::ostringstream out;
    out.imbue(std::locale::classic());
    out.precision(15);
    out << "{\"steps\": " << f.steps << ", \"p50_ns\": " << f.p50_ns << ", \"p99_ns\": " << f.p99_ns
        << ", \"max_ns\": " << f.max_ns << "}";
    return out.str();
}

}  // namespace latency_detail

// Times `model` (input width `in_size`) on the four patterns. Never throws.
template <typename Model>
LatencyResult time_latency(Model& model, std::size_t in_size, const LatencyOptions& options = {}) {
    try {
        return latency_detail::run(model, in_size, options);
    } catch (const std::bad_alloc&) {
        LatencyResult result;
        result.message = "FAIL: out of memory while allocating the timing buffers";
        return result;
    } catch (const std::exception& error) {
        LatencyResult result;
        result.message = std::string("FAIL: exception while timing the model: ") + error.what();
        return result;
    } catch (...) {
        LatencyResult result;
        result.message = "FAIL: an exception that is not a std::exception while timing the model";
        return result;
    }
}

// For a model that says its input width (getInSize(), as RTNeural's Model<T> does).
template <typename Model, typename = std::enable_if_t<latency_detail::has_in_size<Model>::value>>
LatencyResult time_latency(Model& model, const LatencyOptions& options = {}) {
    return time_latency(model, static_cast<std::size_t>(model.getInSize()), options);
}

// Writes `result` as a plugin-latency file for `verify --plugin-latency`: `model` is the manifest's model
// name (or the model file's name) the figures belong to, `build` says what was timed (type and flags).
// Returns false and sets *error (when given) instead of throwing; writes nothing for a failed result.
inline bool write_latency_json(const LatencyResult& result, const std::string& path, const std::string& model,
                               const std::string& build, std::string* error = nullptr) {
    auto fail = [&](const std::string& why) {
        if (error != nullptr) *error = why;
        return false;
    };
    if (!result.ok) return fail("no figures to write: " + result.message);
    try {
        using latency_detail::json_figure;
        using latency_detail::json_string;
        std::ostringstream out;
        out.imbue(std::locale::classic());
        out << "{\n  \"format\": \"rtneural-verifier-plugin-latency\",\n  \"format_version\": "
            << kPluginLatencyFormatVersion << ",\n  \"model\": " << json_string(model)
            << ",\n  \"build\": " << json_string(build) << ",\n  \"dtype\": " << json_string(result.dtype)
            << ",\n  \"warmup\": " << result.warmup << ",\n  \"patterns\": {\n    \"frame\": "
            << json_figure(result.frame) << ",\n    \"stream\": " << json_figure(result.stream)
            << ",\n    \"silence\": " << json_figure(result.silence)
            << ",\n    \"silence_ftz\": " << json_figure(result.silence_ftz) << "\n  }\n}\n";
        const std::string text = out.str();
        std::FILE* file = std::fopen(path.c_str(), "wb");
        if (file == nullptr) return fail("cannot open " + path + " for writing");
        const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
        const bool closed = std::fclose(file) == 0;
        if (!written || !closed) return fail("cannot write " + path);
        return true;
    } catch (const std::exception& e) {
        return fail(std::string("cannot write ") + path + ": " + e.what());
    }
}

}  // namespace rtv
