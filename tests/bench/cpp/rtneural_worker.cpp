// The side-by-side benchmark's RTNeural worker: each production model as RTNeural's dynamic Model<float>
// (json_parser::parseJson, what a plugin gets without declaring a type) and as the compile-time ModelT that
// `verify modelt` prints for it, timed by harness.h. Compiled once per backend and flag set against an
// unmodified RTNeural checkout; bench_models.h is generated beside the build (the ModelT types, in the
// order of the NAME=PATH arguments).
#include <RTNeural/RTNeural.h>

#include "bench_models.h"
#include "harness.h"

namespace {

class DynamicRunner final : public bench::Runner {
public:
    explicit DynamicRunner(const std::string& path) {
        bench::require_regular(path, "model file");
        std::ifstream stream(path, std::ios::binary);
        if (!stream) throw bench::Error("cannot open model file '" + bench::escaped(path) + "'");
        model_ = RTNeural::json_parser::parseJson<float>(stream, false);
        if (!model_) throw bench::Error("RTNeural's parseJson returned no model for '" + bench::escaped(path) + "'");
        model_->reset();
    }
    void reset() override { model_->reset(); }
    const float* forward(const float* in) override {
        model_->forward(in);
        return model_->getOutputs();
    }
    std::size_t in_size() const override { return static_cast<std::size_t>(model_->getInSize()); }
    std::size_t out_size() const override { return static_cast<std::size_t>(model_->getOutSize()); }

private:
    std::unique_ptr<RTNeural::Model<float>> model_;
};

// On the heap: the Eigen ModelTs hold their weights in fixed-size members, megabytes for the large models.
template <typename M>
class StaticRunner final : public bench::Runner {
public:
    explicit StaticRunner(const std::string& path) : model_(std::make_unique<M>()) {
        const auto document = nlohmann::json::parse(bench::read_text(path));
        if (document.at("in_shape").back().get<int>() != M::input_size)
            throw bench::Error("'" + bench::escaped(path) + "' does not have the input width of its ModelT");
        model_->parseJson(document, false);
        model_->reset();
    }
    void reset() override { model_->reset(); }
    const float* forward(const float* in) override {
        model_->forward(in);
        return model_->getOutputs();
    }
    std::size_t in_size() const override { return M::input_size; }
    std::size_t out_size() const override { return M::output_size; }

private:
    std::unique_ptr<M> model_;
};

}  // namespace

int main(int argc, char** argv) {
    std::ios::sync_with_stdio(false);
    try {
        const auto models = bench::model_arguments(argc, argv, 1);
        std::vector<bench::Entry> entries;
        std::size_t index = 0;
        auto add_static = [&](auto* tag) {
            using M = std::remove_pointer_t<decltype(tag)>;
            if (index >= models.size()) throw bench::Error("fewer NAME=PATH arguments than built ModelTs");
            const auto& [name, path] = models[index++];
            // RTNeural's loader throws nlohmann's exceptions on a file it cannot read; the file is named here.
            try {
                entries.push_back({name, "dynamic", std::make_unique<DynamicRunner>(path)});
                entries.push_back({name, "modelt", std::make_unique<StaticRunner<M>>(path)});
            } catch (const std::exception& e) {
                throw bench::Error("cannot load '" + path + "': " + e.what());
            }
        };
#define BENCH_ADD(i) add_static(static_cast<BenchModelT_##i*>(nullptr));
        BENCH_MODELTS(BENCH_ADD)
#undef BENCH_ADD
        if (index != models.size()) throw bench::Error("more NAME=PATH arguments than built ModelTs");
        bench::Worker worker(std::move(entries));
        return worker.serve(std::cin, std::cout);
    } catch (const std::exception& e) {
        std::cout << R"({"ok":false,"fatal":true,"error":")" << bench::escaped(e.what()) << R"("})" << std::endl;
        return 1;
    }
}
