// The side-by-side benchmark's engine worker: the five production models in our engine's Python-free core
// (native/, compiled with native/engine.cmake's options, exactly as the module and the self-test compile
// it), timed by harness.h. argv: the four Limits of verifier.format.findings (their one definition is on
// the Python side), then NAME=PATH pairs.
#include "harness.h"
#include "json_reader.h"
#include "kernels.h"
#include "loader.h"

namespace {

class EngineRunner final : public bench::Runner {
public:
    EngineRunner(const std::string& path, const rtv::Limits& limits)
        : loaded_(rtv::load_keras_json<float>(rtv::read_json(bench::read_text(path), limits.max_depth).root, limits)) {
        loaded_.model.reset();
    }
    void reset() override { loaded_.model.reset(); }
    const float* forward(const float* in) override { return loaded_.model.forward(in); }
    std::size_t in_size() const override { return loaded_.model.in_size(); }
    std::size_t out_size() const override { return loaded_.model.out_size(); }

private:
    rtv::LoadedModel<float> loaded_;
};

}  // namespace

int main(int argc, char** argv) {
    std::ios::sync_with_stdio(false);
    try {
        if (argc < 5) throw bench::Error("usage: engine_worker WIDTH PARAMETERS STATE DEPTH NAME=PATH...");
        // The module refuses to import on a dispatch level it cannot run (RTV_DISPATCH); so does the worker.
        const char* problem = rtv::kernels::dispatch_problem();
        if (problem != nullptr && *problem != '\0') throw bench::Error(problem);
        const std::size_t big = std::size_t(1) << 40;
        const rtv::Limits limits{bench::count(argv[1], "max_layer_width", 1, big),
                                 bench::count(argv[2], "max_total_parameters", 1, big),
                                 bench::count(argv[3], "max_state_values", 1, big), bench::count(argv[4], "max_depth", 1, 4096)};
        std::vector<bench::Entry> entries;
        for (const auto& [name, path] : bench::model_arguments(argc, argv, 5)) {
            try {
                entries.push_back({name, "engine", std::make_unique<EngineRunner>(path, limits)});
            } catch (const rtv::FormatError& e) {
                throw bench::Error("cannot load '" + path + "': " + e.rule + " at '" + e.pointer + "': " + e.what());
            } catch (const rtv::ReadError& e) {
                throw bench::Error("cannot read '" + path + "': " + e.note.rule + " at '" + e.note.pointer + "': " + e.what());
            }
        }
        bench::Worker worker(std::move(entries));
        return worker.serve(std::cin, std::cout);
    } catch (const std::exception& e) {
        std::cout << R"({"ok":false,"fatal":true,"error":")" << bench::escaped(e.what()) << R"("})" << std::endl;
        return 1;
    }
}
