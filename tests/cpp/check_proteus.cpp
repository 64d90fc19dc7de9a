// check_proteus UNIT IN HIDDEN MODEL.json BUNDLE_DIR [MISTAKE]: a GuitarML state_dict file loaded by the
// Proteus-style hand loader of proteus_adapter.h into RTNeural's ModelT (float) and checked against its
// bundle (verify --save-golden, reference state-dict). MISTAKE makes the loader wrong the way hand loaders
// go wrong, by editing the parsed document before load() sees it (the file itself is untouched, so its
// SHA-256 still matches): "unsummed-bias" (the recurrent bias ignored), "unswapped-gates" (GRU r/z left
// in PyTorch's order), "no-skip" (the plugin forgets to add input 0).
// Exit 0 passed, 1 failed, 2 could not run.
#include "proteus_adapter.h"

#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <string>

#include <rtneural_verifier/golden.hpp>

#include "report.h"

namespace {

void swap_gate_rows(nlohmann::json& rows, std::size_t hidden) {
    for (std::size_t i = 0; i < hidden; ++i) std::swap(rows[i], rows[hidden + i]);
}

void make_mistake(nlohmann::json& file, const std::string& mistake, std::size_t hidden) {
    auto& weights = file.at("state_dict");
    if (mistake == "unsummed-bias") {
        for (auto& value : weights.at("rec.bias_hh_l0")) value = 0.0;
    } else if (mistake == "unswapped-gates") {
        // Swapped here, swapped back by the loader: the layer gets PyTorch's order.
        for (const char* key : {"rec.weight_ih_l0", "rec.weight_hh_l0", "rec.bias_ih_l0", "rec.bias_hh_l0"})
            swap_gate_rows(weights.at(key), hidden);
    } else if (mistake == "no-skip") {
        file.at("model_data").at("skip") = 0;
    } else if (!mistake.empty()) {
        throw std::invalid_argument("unknown mistake " + mistake);
    }
}

template <int In, int Hidden, bool IsLstm>
int run(const char* model_file, const char* bundle, const std::string& mistake) {
    auto model = std::make_unique<StateDictAmp<float, In, Hidden, IsLstm>>();
    const auto load = rtv::heap::measure([&] {
        std::ifstream stream(model_file, std::ifstream::binary);
        auto file = nlohmann::json::parse(stream);
        make_mistake(file, mistake, Hidden);
        model->load(file);
    });
    rtv::GoldenOptions options;
    options.model_file = model_file;
    return report(rtv::check_golden(*model, bundle, options), load);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6 && argc != 7) {
        std::fprintf(stderr, "usage: check_proteus lstm|gru IN HIDDEN MODEL.json BUNDLE_DIR [MISTAKE]\n");
        return 2;
    }
    const std::string shape = std::string(argv[1]) + "-" + argv[2] + "-" + argv[3];
    const std::string mistake = argc == 7 ? argv[6] : "";
    try {
        // tests/test_state_dict.py's CASES and the shapes public NeuralPi/Proteus/Chameleon files have, as a
        // plugin compiles one type per shape it ships.
        if (shape == "lstm-1-20") return run<1, 20, true>(argv[4], argv[5], mistake);
        if (shape == "lstm-2-20") return run<2, 20, true>(argv[4], argv[5], mistake);
        if (shape == "lstm-3-20") return run<3, 20, true>(argv[4], argv[5], mistake);
        if (shape == "lstm-1-32") return run<1, 32, true>(argv[4], argv[5], mistake);
        if (shape == "lstm-3-32") return run<3, 32, true>(argv[4], argv[5], mistake);
        if (shape == "lstm-1-40") return run<1, 40, true>(argv[4], argv[5], mistake);
        if (shape == "lstm-2-40") return run<2, 40, true>(argv[4], argv[5], mistake);
        if (shape == "lstm-3-40") return run<3, 40, true>(argv[4], argv[5], mistake);
        if (shape == "gru-1-20") return run<1, 20, false>(argv[4], argv[5], mistake);
        if (shape == "gru-2-20") return run<2, 20, false>(argv[4], argv[5], mistake);
        std::fprintf(stderr, "check_proteus: no type compiled for %s\n", shape.c_str());
    } catch (const std::exception& error) {
        std::fprintf(stderr, "check_proteus: %s\n", error.what());
    }
    return 2;
}
