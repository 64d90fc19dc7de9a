// check_rtneural_modelt ARCH MODEL.json BUNDLE_DIR: RTNeural's compile-time ModelT (float), whose layer list
// is fixed when the plugin is compiled, loaded with ModelT::parseJson and checked against a bundle: the same
// check_golden call fits it. ARCH names one of the two architectures compiled in below.
// Exit 0 passed, 1 failed, 2 could not run.
#include <RTNeural/RTNeural.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <string>

#include <rtneural_verifier/golden.hpp>

#include "report.h"

namespace {

// tests/test_golden_cpp.py's Small: Linear 6->6 + tanh, GRU 6->5, LSTM 5->4, Linear 4->3.
using Small = RTNeural::ModelT<float, 6, 3, RTNeural::DenseT<float, 6, 6>, RTNeural::TanhActivationT<float, 6>,
                               RTNeural::GRULayerT<float, 6, 5>, RTNeural::LSTMLayerT<float, 5, 4>,
                               RTNeural::DenseT<float, 4, 3>>;
// The production DynamicsEngine: 32 -> Linear 128 relu -> Linear 64 relu -> Linear 16 sigmoid.
using Dynamics = RTNeural::ModelT<float, 32, 16, RTNeural::DenseT<float, 32, 128>,
                                  RTNeural::ReLuActivationT<float, 128>, RTNeural::DenseT<float, 128, 64>,
                                  RTNeural::ReLuActivationT<float, 64>,
                                  RTNeural::DenseT<float, 64, 16>, RTNeural::SigmoidActivationT<float, 16>>;

template <typename Model>
int run(const char* model_file, const char* bundle) {
    auto model = std::make_unique<Model>();  // Eigen's fixed-size weights: too large for the stack
    const auto load = rtv::heap::measure([&] {
        std::ifstream stream(model_file, std::ifstream::binary);
        model->parseJson(stream, false);
    });
    rtv::GoldenOptions options;
    options.model_file = model_file;
    return report(rtv::check_golden(*model, bundle, options), load);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string arch = argc == 4 ? argv[1] : "";
    if (arch != "small" && arch != "dynamics") {
        std::fprintf(stderr, "usage: check_rtneural_modelt small|dynamics MODEL.json BUNDLE_DIR\n");
        return 2;
    }
    try {
        return arch == "small" ? run<Small>(argv[2], argv[3]) : run<Dynamics>(argv[2], argv[3]);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "check_rtneural_modelt: %s\n", error.what());
    }
    return 2;
}
