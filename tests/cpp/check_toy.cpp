// check_toy [OPTIONS] IN_SIZE OUT_SIZE BUNDLE_DIR [MODEL_FILE]: a toy model (output j is twice input j mod
// IN_SIZE, no state) checked against a bundle, for the tests of what the checker does with a bundle: hostile
// and fuzzed bundles (tests/test_golden_cpp_bundles.py) and the CTest helper rtv_add_golden_test. Options:
// --throwing (the model's forward() throws), --max-file-bytes=N and --max-bundle-bytes=N (GoldenLimits).
// Exit 0 passed, 1 failed (the message on stdout), 2 usage.
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <rtneural_verifier/golden.hpp>

namespace {

class Doubler {
public:
    Doubler(std::size_t in, std::size_t out, bool throwing) : in_(in), out_(out), throwing_(throwing) {}
    void reset() {}
    void forward(const float* x) {
        if (throwing_) throw std::runtime_error("the toy model throws");
        for (std::size_t j = 0; j < out_.size(); ++j) out_[j] = 2.0f * x[j % in_];
    }
    const float* getOutputs() const { return out_.data(); }
    int getInSize() const { return static_cast<int>(in_); }
    int getOutSize() const { return static_cast<int>(out_.size()); }

private:
    std::size_t in_;
    std::vector<float> out_;
    bool throwing_;
};

std::size_t width(const char* text) {
    char* end = nullptr;
    const unsigned long value = std::strtoul(text, &end, 10);
    return (*end == '\0' && value >= 1 && value <= 4096) ? value : 0;
}

}  // namespace

int main(int argc, char** argv) {
    const char* usage =
        "usage: check_toy [--throwing] [--max-file-bytes=N] [--max-bundle-bytes=N] IN_SIZE OUT_SIZE BUNDLE_DIR "
        "[MODEL_FILE]\n";
    bool throwing = false;
    rtv::GoldenOptions options;
    for (; argc > 1 && std::strncmp(argv[1], "--", 2) == 0; --argc, ++argv) {
        const std::string option = argv[1];
        const auto value = [&](const char* name) {
            return option.rfind(name, 0) == 0 ? std::strtoull(option.c_str() + std::strlen(name), nullptr, 10) : 0;
        };
        if (option == "--throwing") {
            throwing = true;
        } else if (option.rfind("--max-file-bytes=", 0) == 0) {
            options.limits.max_file_bytes = value("--max-file-bytes=");
        } else if (option.rfind("--max-bundle-bytes=", 0) == 0) {
            options.limits.max_bundle_bytes = value("--max-bundle-bytes=");
        } else {
            std::fputs(usage, stderr);
            return 2;
        }
    }
    if (argc != 4 && argc != 5) {
        std::fputs(usage, stderr);
        return 2;
    }
    const std::size_t in = width(argv[1]), out = width(argv[2]);
    if (in == 0 || out == 0) {
        std::fprintf(stderr, "check_toy: IN_SIZE and OUT_SIZE are whole numbers from 1 to 4096\n");
        return 2;
    }
    Doubler model(in, out, throwing);
    if (argc == 5) options.model_file = argv[4];
    const rtv::GoldenResult result = rtv::check_golden(model, argv[3], options);
    std::printf("passed=%d\nmessage=%s\n", result.passed ? 1 : 0, result.message.c_str());
    return result.passed ? 0 : 1;
}
