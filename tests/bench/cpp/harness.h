// The timing worker's protocol and timing loop, shared by the RTNeural worker and the engine worker so that
// every runtime of the side-by-side benchmark (tests/bench/side_by_side.py) is timed by the same loop, clock
// and input pool. One command per stdin line, one JSON line per answer:
//   info
//   time MODEL KIND PATTERN SAMPLES BLOCK FTZ   -> {"ok":true,"ns":[per-forward ns of each sample]}
//   run MODEL KIND PATTERN FILE                 -> {"ok":true,"out":[outputs, step after step]}
//   quit
// A command that cannot be carried out gets {"ok":false,"error":"..."}; the worker goes on reading.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define BENCH_HAS_MXCSR 1
#endif

namespace bench {

// One loaded model of one runtime: the only calls a plugin makes per block.
struct Runner {
    virtual ~Runner() = default;
    virtual void reset() = 0;
    virtual const float* forward(const float* in) = 0;
    virtual std::size_t in_size() const = 0;
    virtual std::size_t out_size() const = 0;
};

struct Entry {
    std::string name;
    std::string kind;  // "engine", "dynamic" (RTNeural Model<float>), "modelt" (RTNeural ModelT)
    std::unique_ptr<Runner> runner;
};

// Bounds on what one command may ask for, so that a mistyped number cannot make the worker run for hours
// or allocate without end.
constexpr std::size_t kMaxSamples = 100000;
constexpr std::size_t kMaxBlock = 4096;
constexpr std::size_t kMaxForwards = 20000000;
constexpr std::size_t kMaxRunBytes = 64u << 20;
// Steps before the timed ones: the warm-up of the stream, and the signal that precedes the silence.
constexpr std::size_t kLeadSteps = 200;
constexpr std::size_t kPool = 1024;  // input vectors drawn before timing, cycled through
constexpr std::uint64_t kSeed = 0;

class Error : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline std::string escaped(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

inline std::size_t count(const std::string& word, const char* what, std::size_t low, std::size_t high) {
    if (word.empty() || word.size() > 12 || word.find_first_not_of("0123456789") != std::string::npos)
        throw Error(std::string(what) + " must be a whole number, found '" + word + "'");
    const std::size_t value = std::stoull(word);
    if (value < low || value > high)
        throw Error(std::string(what) + " must be in [" + std::to_string(low) + ", " + std::to_string(high) +
                    "], found " + word);
    return value;
}

// Flush-to-zero (MXCSR bit 15) and denormals-are-zero (bit 6), as a plugin host sets them around its
// audio callback; the previous mode comes back when this goes out of scope.
class FlushDenormals {
public:
    explicit FlushDenormals(bool on) {
#ifdef BENCH_HAS_MXCSR
        saved_ = _mm_getcsr();
        if (on) _mm_setcsr(saved_ | 0x8040u);
#else
        if (on) throw Error("FTZ=1 needs an x86 MXCSR; this build has none");
#endif
    }
    ~FlushDenormals() {
#ifdef BENCH_HAS_MXCSR
        _mm_setcsr(saved_);
#endif
    }
    FlushDenormals(const FlushDenormals&) = delete;
    FlushDenormals& operator=(const FlushDenormals&) = delete;

private:
    unsigned saved_ = 0;
};

// A FIFO or a device would block the worker or never end: only regular files are read.
inline void require_regular(const std::string& path, const char* what) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error))
        throw Error(std::string("cannot open ") + what + " '" + escaped(path) + "': not a regular file");
}

class Worker {
public:
    explicit Worker(std::vector<Entry> entries) : entries_(std::move(entries)) {}

    int serve(std::istream& in, std::ostream& out) {
        std::string line;
        while (std::getline(in, line)) {
            if (line.size() > 4096) {
                out << R"({"ok":false,"error":"command longer than 4096 characters"})" << std::endl;
                continue;
            }
            std::istringstream words(line);
            std::vector<std::string> w;
            for (std::string word; words >> word;) w.push_back(word);
            if (!w.empty() && w[0] == "quit" && w.size() == 1) return 0;
            try {
                out << answer(w) << std::endl;
            } catch (const std::exception& e) {
                out << R"({"ok":false,"error":")" << escaped(e.what()) << R"("})" << std::endl;
            }
        }
        return 0;
    }

private:
    std::string answer(const std::vector<std::string>& w) {
        if (w.empty()) throw Error("empty command; expected info, time, run or quit");
        if (w[0] == "info" && w.size() == 1) return info();
        if (w[0] == "time" && w.size() == 7) {
            return time(find(w[1], w[2]), w[3], count(w[4], "SAMPLES", 1, kMaxSamples),
                        count(w[5], "BLOCK", 1, kMaxBlock), count(w[6], "FTZ", 0, 1) == 1);
        }
        if (w[0] == "run" && w.size() == 5) return run(find(w[1], w[2]), w[3], w[4]);
        throw Error("unknown command '" + escaped(w[0]) + "' with " + std::to_string(w.size() - 1) +
                    " argument(s); expected: info | time MODEL KIND PATTERN SAMPLES BLOCK FTZ | "
                    "run MODEL KIND PATTERN FILE | quit");
    }

    Runner& find(const std::string& name, const std::string& kind) {
        for (auto& e : entries_)
            if (e.name == name && e.kind == kind) return *e.runner;
        std::string known;
        for (auto& e : entries_) known += " " + e.name + "/" + e.kind;
        throw Error("no model '" + escaped(name) + "' of kind '" + escaped(kind) + "' here; known:" + known);
    }

    std::string info() const {
        std::ostringstream o;
        o << R"({"ok":true,"models":[)";
        for (std::size_t i = 0; i < entries_.size(); ++i) {
            const auto& e = entries_[i];
            o << (i ? "," : "") << R"({"name":")" << e.name << R"(","kind":")" << e.kind << R"(","in":)"
              << e.runner->in_size() << R"(,"out":)" << e.runner->out_size() << "}";
        }
        o << "]}";
        return o.str();
    }

    // Inputs every runtime sees alike: uniform [-1, 1] from one seed, one aligned vector per step (widths
    // are copied to a 64-byte stride so that RTNeural's aligned maps hold), drawn before any timing.
    static std::vector<float, std::allocator<float>> pool(std::size_t width, std::size_t& stride) {
        stride = (width + 15) / 16 * 16;
        std::vector<float> values(kPool * stride + 16, 0.0f);
        std::mt19937_64 rng(kSeed);
        std::uniform_real_distribution<double> uniform(-1.0, 1.0);
        for (std::size_t i = 0; i < kPool; ++i)
            for (std::size_t j = 0; j < width; ++j) values[i * stride + j] = static_cast<float>(uniform(rng));
        return values;
    }

    static const float* aligned(const std::vector<float>& v) {
        auto address = reinterpret_cast<std::uintptr_t>(v.data());
        return v.data() + ((64 - address % 64) % 64) / sizeof(float);
    }

    std::string time(Runner& r, const std::string& pattern, std::size_t samples, std::size_t block, bool ftz) {
        const bool frame = pattern == "frame", silence = pattern == "silence";
        if (!frame && !silence && pattern != "stream")
            throw Error("PATTERN must be stream, frame or silence, found '" + escaped(pattern) + "'");
        if (frame && block != 1)
            throw Error("the frame pattern resets before every step, outside the timed span: BLOCK must be 1");
        if (samples * block > kMaxForwards) throw Error("SAMPLES x BLOCK above " + std::to_string(kMaxForwards));
        std::size_t stride = 0;
        const auto storage = pool(r.in_size(), stride);
        const float* inputs = aligned(storage);
        const std::vector<float> zero_storage(r.in_size() + 16, 0.0f);
        const float* zeros = aligned(zero_storage);
        std::vector<double> ns(samples);
        using clock = std::chrono::steady_clock;
        volatile float sink = 0.0f;
        {
            FlushDenormals mode(ftz);
            r.reset();
            std::size_t step = 0;
            for (; step < kLeadSteps; ++step) sink = r.forward(inputs + (step % kPool) * stride)[0];
            for (std::size_t s = 0; s < samples; ++s) {
                if (frame) r.reset();
                const auto start = clock::now();
                for (std::size_t b = 0; b < block; ++b, ++step)
                    sink = r.forward(silence ? zeros : inputs + (step % kPool) * stride)[0];
                const auto stop = clock::now();
                ns[s] = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count()) /
                        static_cast<double>(block);
            }
            r.reset();
        }
        (void)sink;
        std::ostringstream o;
        o.precision(6);
        o << R"({"ok":true,"ns":[)";
        for (std::size_t s = 0; s < samples; ++s) o << (s ? "," : "") << ns[s];
        o << "]}";
        return o.str();
    }

    // Outputs for raw little-endian float32 inputs in FILE (steps x in_size), from reset state.
    std::string run(Runner& r, const std::string& pattern, const std::string& path) {
        if (pattern != "stream" && pattern != "frame")
            throw Error("run's PATTERN must be stream or frame, found '" + escaped(pattern) + "'");
        require_regular(path, "input file");
        std::ifstream file(path, std::ios::binary | std::ios::ate);
        if (!file) throw Error("cannot open input file '" + escaped(path) + "'");
        const std::streamoff size = file.tellg();
        const std::size_t row = r.in_size() * sizeof(float);
        if (size <= 0 || static_cast<std::size_t>(size) > kMaxRunBytes || static_cast<std::size_t>(size) % row)
            throw Error("input file '" + escaped(path) + "' must hold whole rows of " + std::to_string(r.in_size()) +
                        " float32 values, at most " + std::to_string(kMaxRunBytes) + " bytes; it has " +
                        std::to_string(size) + " bytes");
        const std::size_t steps = static_cast<std::size_t>(size) / row;
        std::vector<float> storage(steps * r.in_size() + 16);
        float* xs = const_cast<float*>(aligned(storage));
        file.seekg(0);
        file.read(reinterpret_cast<char*>(xs), size);
        if (!file) throw Error("cannot read input file '" + escaped(path) + "'");
        std::ostringstream o;
        o.precision(9);
        o << R"({"ok":true,"out":[)";
        r.reset();
        std::vector<float> step_in(r.in_size() + 16);
        float* x = const_cast<float*>(aligned(step_in));
        for (std::size_t t = 0; t < steps; ++t) {
            if (pattern == "frame") r.reset();
            std::copy_n(xs + t * r.in_size(), r.in_size(), x);
            const float* y = r.forward(x);
            for (std::size_t j = 0; j < r.out_size(); ++j) o << (t || j ? "," : "") << y[j];
        }
        r.reset();
        o << "]}";
        return o.str();
    }

    std::vector<Entry> entries_;
};

// argv after the program name: NAME=PATH pairs, one per model, in the order the build lists them.
inline std::vector<std::pair<std::string, std::string>> model_arguments(int argc, char** argv, int first) {
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = first; i < argc; ++i) {
        const std::string arg = argv[i];
        const auto eq = arg.find('=');
        if (eq == std::string::npos || eq == 0) throw Error("expected NAME=PATH, found '" + escaped(arg) + "'");
        out.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
    }
    return out;
}

inline std::string read_text(const std::string& path) {
    require_regular(path, "model file");
    std::ifstream file(path, std::ios::binary);
    if (!file) throw Error("cannot open model file '" + escaped(path) + "'");
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

}  // namespace bench
