// time_toy STEPS WARMUP LATENCY.json: rtv::time_latency (rtneural_verifier/latency.hpp) on a toy model whose
// state halves every step and adds the input (h = h / 2 + x), so that silence after signal drives it
// through the subnormal numbers, and which records what the timing loop fed it: calls, all-zero inputs,
// calls made under flush-to-zero, steps whose state was subnormal, and operator new calls between two steps
// of one pattern (count_heap.hpp is linked in). Writes the figures with rtv::write_latency_json and prints
// key=value lines. Exit 0 timed and written, 1 not, 2 usage.
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <rtneural_verifier/golden.hpp>

namespace {

constexpr std::size_t kWidth = 4;

struct Record {
    std::size_t calls = 0;
    std::size_t zero_inputs = 0;
    std::size_t under_ftz = 0;
    std::size_t subnormal_steps = 0;
    std::size_t subnormal_under_ftz = 0;
    std::uint64_t allocations_between_steps = 0;
};

class Decay {
public:
    explicit Decay(Record& record) : record_(record) {}
    void reset() {
        for (float& h : state_) h = 0.0f;
        first_step_ = true;
    }
    void forward(const float* x) {
        const std::uint64_t allocations = rtv::heap::counters().allocations.load();
        if (!first_step_) record_.allocations_between_steps += allocations - last_allocations_;
        first_step_ = false;
        ++record_.calls;
        bool zero = true, subnormal = false;
        for (std::size_t i = 0; i < kWidth; ++i) {
            zero = zero && x[i] == 0.0f;
            state_[i] = 0.5f * state_[i] + x[i];
            subnormal = subnormal || std::fpclassify(state_[i]) == FP_SUBNORMAL;
        }
        record_.zero_inputs += zero ? 1 : 0;
        record_.under_ftz += rtv::flush_to_zero_active() ? 1 : 0;
        record_.subnormal_steps += subnormal ? 1 : 0;
        record_.subnormal_under_ftz += subnormal && rtv::flush_to_zero_active() ? 1 : 0;
        last_allocations_ = rtv::heap::counters().allocations.load();
    }
    const float* getOutputs() const { return state_; }
    int getInSize() const { return static_cast<int>(kWidth); }

private:
    Record& record_;
    float state_[kWidth]{};
    bool first_step_ = true;
    std::uint64_t last_allocations_ = 0;
};

void print(const char* name, const rtv::LatencyFigure& f) {
    std::printf("%s_measured=%d\n%s_steps=%zu\n%s_p50_ns=%.0f\n%s_p99_ns=%.0f\n%s_max_ns=%.0f\n", name,
                f.measured ? 1 : 0, name, f.steps, name, f.p50_ns, name, f.p99_ns, name, f.max_ns);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: time_toy STEPS WARMUP LATENCY.json\n");
        return 2;
    }
    rtv::LatencyOptions options;
    options.steps = std::strtoul(argv[1], nullptr, 10);
    options.warmup = std::strtoul(argv[2], nullptr, 10);
    Record record;
    Decay model(record);
    const bool ftz_before = rtv::flush_to_zero_active();
    const rtv::LatencyResult result = rtv::time_latency(model, options);
    std::printf("ok=%d\nftz_available=%d\n", result.ok ? 1 : 0, rtv::kFlushToZeroAvailable ? 1 : 0);
    std::printf("ftz_before=%d\nftz_after=%d\n", ftz_before ? 1 : 0, rtv::flush_to_zero_active() ? 1 : 0);
    std::printf("calls=%zu\nzero_inputs=%zu\nunder_ftz=%zu\n", record.calls, record.zero_inputs, record.under_ftz);
    std::printf("subnormal_steps=%zu\nsubnormal_under_ftz=%zu\n", record.subnormal_steps, record.subnormal_under_ftz);
    std::printf("heap_counted=%d\nallocations_between_steps=%llu\n", rtv::heap::counting() ? 1 : 0,
                static_cast<unsigned long long>(record.allocations_between_steps));
    print("frame", result.frame);
    print("stream", result.stream);
    print("silence", result.silence);
    print("silence_ftz", result.silence_ftz);
    std::string error;
    const bool written = rtv::write_latency_json(result, argv[3], "toy", "Decay, tests/cpp", &error);
    std::printf("written=%d\nmessage=%s\nerror=%s\n", written ? 1 : 0, result.message.c_str(), error.c_str());
    return written ? 0 : 1;
}
