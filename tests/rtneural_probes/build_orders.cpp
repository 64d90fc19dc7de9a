// build_orders ARCH DTYPE MODEL.json X_0 .. X_n: streams the one-input inputs X through one model file loaded
// twice by RTNeural itself (compiled against the headers of RTNEURAL_DIR, for whichever backend the build
// chose): by the dynamic loader (json_parser::parseJson -> Model<T>) and into a compile-time ModelT whose
// layer ARCH names ("gru": one GRULayerT 1 -> 1; "lstm": one LSTMLayerT 1 -> 1). Prints
// two lines, "dynamic v_0 .. v_n" and "static v_0 .. v_n".
//
// tests/test_builds.py compares these with what the rtneural-builds check says each build gives.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "RTNeural/RTNeural.h"

namespace {

template <typename T, typename Static>
int run(const char* path, const std::vector<double>& xs) {
    std::ifstream file(path);
    if (!file) return 2;
    const nlohmann::json json = nlohmann::json::parse(file);
    auto dynamic = RTNeural::json_parser::parseJson<T>(json, false);
    if (!dynamic) return 3;
    Static fixed;
    fixed.parseJson(json, false);
    dynamic->reset();
    fixed.reset();
    std::string line_dynamic = "dynamic", line_static = "static";
    char number[64];
    for (double x : xs) {
        const T in[1] = {static_cast<T>(x)};
        std::snprintf(number, sizeof number, " %.17g", static_cast<double>(dynamic->forward(in)));
        line_dynamic += number;
        std::snprintf(number, sizeof number, " %.17g", static_cast<double>(fixed.forward(in)));
        line_static += number;
    }
    std::printf("%s\n%s\n", line_dynamic.c_str(), line_static.c_str());
    return 0;
}

template <typename T>
int run_arch(const std::string& arch, const char* path, const std::vector<double>& xs) {
    if (arch == "gru") return run<T, RTNeural::ModelT<T, 1, 1, RTNeural::GRULayerT<T, 1, 1>>>(path, xs);
    if (arch == "lstm") return run<T, RTNeural::ModelT<T, 1, 1, RTNeural::LSTMLayerT<T, 1, 1>>>(path, xs);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) return 2;
    const std::string arch = argv[1], dtype = argv[2];
    std::vector<double> xs;
    for (int i = 4; i < argc; ++i) xs.push_back(std::strtod(argv[i], nullptr));
    if (dtype == "float32") return run_arch<float>(arch, argv[3], xs);
    if (dtype == "float64") return run_arch<double>(arch, argv[3], xs);
    return 2;
}
