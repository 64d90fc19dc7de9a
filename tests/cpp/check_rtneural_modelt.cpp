// check_rtneural_modelt ARCH MODEL.json BUNDLE_DIR [LATENCY.json]: RTNeural's compile-time ModelT (float), whose
// layer list is fixed when the plugin is compiled, loaded with ModelT::parseJson and checked against a bundle:
// the same check_golden call fits it. ARCH names one of the two architectures compiled in below. With
// LATENCY.json, the model is then timed as the plugin builds it (rtv::time_latency) and the figures written
// for `verify --plugin-latency` under the model file's name.
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

inline std::string stem(const std::string& path) {
    const std::string name = path.substr(path.find_last_of("/\\") + 1);
    return name.substr(0, name.rfind('.'));
}

template <typename Model>
int run(const char* model_file, const char* bundle, const char* latency_file) {
    auto model = std::make_unique<Model>();  // Eigen's fixed-size weights: too large for the stack
    const auto load = rtv::heap::measure([&] {
        std::ifstream stream(model_file, std::ifstream::binary);
        model->parseJson(stream, false);
    });
    rtv::GoldenOptions options;
    options.model_file = model_file;
    const int status = report(rtv::check_golden(*model, bundle, options), load);
    if (latency_file != nullptr) {
        const rtv::LatencyResult latency = rtv::time_latency(*model, static_cast<std::size_t>(Model::input_size));
        std::string error;
        const bool written = rtv::write_latency_json(latency, latency_file, stem(model_file),
                                                     "RTNeural ModelT<float> (Eigen, tests/cpp)", &error);
        std::printf("latency_written=%d\nlatency_message=%s\nlatency_error=%s\n", written ? 1 : 0,
                    latency.message.c_str(), error.c_str());
        if (!written) return 1;
    }
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string arch = argc == 4 || argc == 5 ? argv[1] : "";
    if (arch != "small" && arch != "dynamics") {
        std::fprintf(stderr, "usage: check_rtneural_modelt small|dynamics MODEL.json BUNDLE_DIR [LATENCY.json]\n");
        return 2;
    }
    const char* latency = argc == 5 ? argv[4] : nullptr;
    try {
        return arch == "small" ? run<Small>(argv[2], argv[3], latency) : run<Dynamics>(argv[2], argv[3], latency);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "check_rtneural_modelt: %s\n", error.what());
    }
    return 2;
}
