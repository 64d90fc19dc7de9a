// check_engine DTYPE MODEL.json BUNDLE_DIR WIDTH PARAMETERS STATE DEPTH: our engine (native/: its JSON reader
// and loader) behind the three methods the golden checker needs, checked against a bundle. The last four are
// the limits of verifier.format.findings.Limits (max_layer_width, max_total_parameters, max_state_values,
// max_depth), which the test passes: the engine has no defaults of its own. Exit 0 passed, 1 failed, 2 could
// not run.
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
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
    EngineModel(const rtv::Json& document, const rtv::Limits& limits)
        : loaded_(rtv::load_keras_json<T>(document, limits)) {}
    void reset() noexcept { loaded_.model.reset(); }
    void forward(const T* in) noexcept { out_ = loaded_.model.forward(in); }
    const T* getOutputs() const noexcept { return out_; }

private:
    rtv::LoadedModel<T> loaded_;
    const T* out_ = nullptr;
};

rtv::Json read_file(const std::string& path, std::size_t max_depth) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    return rtv::read_json(text.str(), max_depth).root;
}

template <typename T>
int run(const char* model_file, const char* bundle, const rtv::Limits& limits) {
    std::unique_ptr<EngineModel<T>> model;
    const auto load = rtv::heap::measure(
        [&] { model = std::make_unique<EngineModel<T>>(read_file(model_file, limits.max_depth), limits); });
    rtv::GoldenOptions options;
    options.model_file = model_file;
    return report(rtv::check_golden(*model, bundle, options), load);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 8 || (std::strcmp(argv[1], "float32") != 0 && std::strcmp(argv[1], "float64") != 0)) {
        std::fprintf(stderr, "usage: check_engine float32|float64 MODEL.json BUNDLE_DIR WIDTH PARAMETERS STATE DEPTH\n");
        return 2;
    }
    try {
        const auto size = [&](int i) { return static_cast<std::size_t>(std::stoull(argv[i])); };
        const rtv::Limits limits{size(4), size(5), size(6), size(7)};
        return std::strcmp(argv[1], "float32") == 0 ? run<float>(argv[2], argv[3], limits)
                                                    : run<double>(argv[2], argv[3], limits);
    } catch (const rtv::ReadError& error) {
        std::fprintf(stderr, "check_engine: %s: %s: %s\n", argv[2], error.note.pointer.c_str(), error.what());
    } catch (const rtv::FormatError& error) {
        std::fprintf(stderr, "check_engine: %s: %s: %s\n", argv[2], error.pointer.c_str(), error.what());
    } catch (const std::exception& error) {
        std::fprintf(stderr, "check_engine: %s\n", error.what());
    }
    return 2;
}
