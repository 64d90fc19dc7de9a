// check_rtneural DTYPE MODEL.json BUNDLE_DIR: the real RTNeural (the user's checkout, RTNEURAL_DIR),
// loaded with its own parseJson, checked against a bundle exactly as a plugin's test would.
// Exit 0 passed, 1 failed, 2 could not run.
#include <RTNeural/RTNeural.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <string>

#include <rtneural_verifier/golden.hpp>

#include "report.h"

namespace {

template <typename T>
int run(const char* model_file, const char* bundle) {
    std::unique_ptr<RTNeural::Model<T>> model;
    const auto load = rtv::heap::measure([&] {
        std::ifstream stream(model_file, std::ifstream::binary);
        model = RTNeural::json_parser::parseJson<T>(stream, false);
    });
    if (!model) {
        std::fprintf(stderr, "check_rtneural: RTNeural returned no model for %s\n", model_file);
        return 2;
    }
    rtv::GoldenOptions options;
    options.model_file = model_file;
    return report(rtv::check_golden(*model, bundle, options), load);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4 || (std::strcmp(argv[1], "float32") != 0 && std::strcmp(argv[1], "float64") != 0)) {
        std::fprintf(stderr, "usage: check_rtneural float32|float64 MODEL.json BUNDLE_DIR\n");
        return 2;
    }
    try {
        return std::strcmp(argv[1], "float32") == 0 ? run<float>(argv[2], argv[3]) : run<double>(argv[2], argv[3]);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "check_rtneural: %s\n", error.what());
    }
    return 2;
}
