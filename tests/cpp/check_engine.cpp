// check_engine DTYPE MODEL.json BUNDLE_DIR: our engine (native/) behind the three methods the golden
// checker needs, checked against a bundle. Exit 0 passed, 1 failed, 2 could not run.
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include <rtneural_verifier/golden.hpp>

#include "json_reader.h"
#include "loader.h"
#include "report.h"

namespace {

// The adapter: RTNeural's method names over rtv::Model.
template <typename T>
class EngineModel {
public:
    explicit EngineModel(const rtv::Json& document) : loaded_(rtv::load_keras_json<T>(document)) {}
    void reset() noexcept { loaded_.model.reset(); }
    void forward(const T* in) noexcept { out_ = loaded_.model.forward(in); }
    const T* getOutputs() const noexcept { return out_; }

private:
    rtv::LoadedModel<T> loaded_;
    const T* out_ = nullptr;
};

template <typename T>
int run(const char* model_file, const char* bundle) {
    std::unique_ptr<EngineModel<T>> model;
    const auto load = rtv::heap::measure(
        [&] { model = std::make_unique<EngineModel<T>>(test_json::read_file(model_file)); });
    rtv::GoldenOptions options;
    options.model_file = model_file;
    return report(rtv::check_golden(*model, bundle, options), load);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4 || (std::strcmp(argv[1], "float32") != 0 && std::strcmp(argv[1], "float64") != 0)) {
        std::fprintf(stderr, "usage: check_engine float32|float64 MODEL.json BUNDLE_DIR\n");
        return 2;
    }
    try {
        return std::strcmp(argv[1], "float32") == 0 ? run<float>(argv[2], argv[3]) : run<double>(argv[2], argv[3]);
    } catch (const rtv::FormatError& error) {
        std::fprintf(stderr, "check_engine: %s: %s: %s\n", argv[2], error.pointer.c_str(), error.what());
    } catch (const std::exception& error) {
        std::fprintf(stderr, "check_engine: %s\n", error.what());
    }
    return 2;
}
