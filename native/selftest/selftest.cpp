// The engine's self-test without Python: for every keras-json case of RTNeural's conformance corpus that
// has an expected output, read the model with the engine's own reader and loader, run the input through it
// as the corpus manifest says (README "How a test should use manifest.json") and compare with the expected
// CSV at the case's tolerance, in each numeric type the case lists. Built for machines where the Python
// package is not (tox -e portability cross-compiles it for aarch64 and runs it under qemu).
//
//   rtv_selftest CORPUS_DIR [--dump FILE]
//
// Prints one line per case and a summary ("cases passed N/M; worst error E (case)"); exits 0 only when every
// case passed. --dump writes every output value the engine produced (the compared types, and float32 of
// every keras-json case besides), as raw bytes in case order, so that two builds (two ISAs, two vector
// layers) can be compared bit for bit.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "json_reader.h"
#include "kernels.h"
#include "loader.h"

namespace {

// Generous enough for every corpus model; the engine refuses a model over them with a FormatError.
constexpr rtv::Limits kLimits{65536, 50000000, 1u << 20, 64};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

const rtv::Json& member(const rtv::Json& object, const char* key) {
    const rtv::Json* found = object.is_object() ? object.find(key) : nullptr;
    if (found == nullptr) throw std::runtime_error(std::string("manifest entry without \"") + key + "\"");
    return *found;
}

using Table = std::vector<std::vector<double>>;

// A CSV of numbers as rows, following the layout text: transposed when it says so, and a single column
// chunked into rows of `width` values (the conv2d frames).
Table read_steps(const std::string& corpus, const rtv::Json& spec, std::size_t width) {
    std::istringstream lines(read_file(corpus + "/" + member(spec, "file").as_string()));
    Table table;
    for (std::string line; std::getline(lines, line);) {
        std::vector<double> row;
        std::istringstream cells(line);
        for (std::string cell; std::getline(cells, cell, ',');)
            if (cell.find_first_not_of(" \t\r") != std::string::npos) row.push_back(std::strtod(cell.c_str(), nullptr));
        if (!row.empty()) table.push_back(std::move(row));
    }
    if (member(spec, "layout").as_string().find("transpose") != std::string::npos) {
        Table t(table.empty() ? 0 : table[0].size(), std::vector<double>(table.size()));
        for (std::size_t r = 0; r < table.size(); ++r)
            for (std::size_t c = 0; c < table[r].size(); ++c) t[c][r] = table[r][c];
        table = std::move(t);
    }
    if (!table.empty() && table[0].size() == 1 && width > 1) {
        Table chunked;
        for (std::size_t i = 0; i + width <= table.size(); i += width) {
            std::vector<double> row;
            for (std::size_t k = 0; k < width; ++k) row.push_back(table[i + k][0]);
            chunked.push_back(std::move(row));
        }
        table = std::move(chunked);
    }
    return table;
}

struct Outcome {
    bool passed;
    double worst;
};

// Every output the model gives on `input` after a reset, step after step.
template <typename T>
std::vector<T> outputs(const rtv::Json& document, const Table& input) {
    rtv::LoadedModel<T> loaded = rtv::load_keras_json<T>(document, kLimits);
    rtv::Model<T>& model = loaded.model;
    model.reset();
    std::vector<T> x(model.in_size()), produced;
    for (const auto& row : input) {
        for (std::size_t k = 0; k < x.size(); ++k) x[k] = static_cast<T>(row.at(k));
        const T* y = model.forward(x.data());
        produced.insert(produced.end(), y, y + model.out_size());
    }
    return produced;
}

template <typename T>
void write(std::ofstream& dump, const std::vector<T>& values) {
    dump.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(T)));
}

template <typename T>
Outcome run_case(const rtv::Json& document, const Table& input, const Table& expected, const rtv::Json& compare,
                 double tolerance, std::ofstream& dump) {
    const std::vector<T> produced = outputs<T>(document, input);
    write(dump, produced);
    const std::size_t out = input.empty() ? 0 : produced.size() / input.size();
    Table ours;
    for (std::size_t step = 0; step < input.size(); ++step)
        ours.emplace_back(produced.begin() + step * out, produced.begin() + (step + 1) * out);
    const auto start = static_cast<std::size_t>(member(compare, "rtneural_first_step").as_number());
    const auto stride = static_cast<std::size_t>(member(compare, "rtneural_step_stride").as_number());
    const auto first = static_cast<std::size_t>(member(compare, "expected_first_step").as_number());
    const rtv::Json& num = member(compare, "num_steps");
    const std::size_t count = num.is_number() ? static_cast<std::size_t>(num.as_number()) : expected.size() - first;
    const bool output0 = member(compare, "outputs").as_string().rfind("output 0", 0) == 0;
    if (count == 0 || start + (count - 1) * stride >= ours.size() || first + count > expected.size())
        throw std::runtime_error("the compare block does not fit the data");
    Outcome outcome{true, 0.0};
    for (std::size_t n = 0; n < count; ++n) {
        const auto& mine = ours[start + n * stride];
        const auto& want = expected[first + n];
        const std::size_t width = output0 ? 1 : mine.size();
        if (want.size() != width) throw std::runtime_error("expected rows do not match the output width");
        for (std::size_t k = 0; k < width; ++k) {
            const double error = std::fabs(static_cast<double>(mine[k]) - want[k]);
            if (!(error <= tolerance)) outcome.passed = false;  // a NaN fails
            if (!(error <= outcome.worst)) outcome.worst = error;
        }
    }
    return outcome;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 && !(argc == 4 && std::string(argv[2]) == "--dump")) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR [--dump FILE]\n", argv[0]);
        return 2;
    }
    if (const char* problem = rtv::kernels::dispatch_problem()) {
        std::fprintf(stderr, "%s\n", problem);
        return 2;
    }
    const std::string corpus = argv[1];
    std::ofstream dump;
    if (argc == 4) dump.open(argv[3], std::ios::binary);
    int passed = 0, total = 0;
    double worst = 0.0;
    std::string worst_case = "none";
    try {
        const rtv::Json manifest = rtv::read_json(read_file(corpus + "/manifest.json"), kLimits.max_depth).root;
        for (const rtv::Json& entry : member(manifest, "cases").as_array()) {
            const std::string name = member(entry, "name").as_string();
            if (member(entry, "format").as_string() != "keras-json") continue;
            if (!member(entry, "expected").is_object()) {
                std::printf("skip %s: no expected output in the corpus\n", name.c_str());
                continue;
            }
            const auto in_size = static_cast<std::size_t>(member(entry, "in_size").as_number());
            const auto out_size = static_cast<std::size_t>(member(entry, "out_size").as_number());
            const Table input = read_steps(corpus, member(entry, "input"), in_size);
            const rtv::Json document =
                rtv::read_json(read_file(corpus + "/" + member(entry, "model").as_string()), kLimits.max_depth).root;
            // For the byte comparison between builds: float32 too (its kernels differ from float64's), and
            // the case without an expected file.
            write(dump, outputs<float>(document, input));
            if (!member(entry, "expected").is_object()) {
                write(dump, outputs<double>(document, input));
                std::printf("skip %s: no expected output in the corpus\n", name.c_str());
                continue;
            }
            const Table expected = read_steps(corpus, member(entry, "expected"), out_size);
            const double tolerance = member(member(entry, "tolerance"), "abs").as_number();
            for (const rtv::Json& type : member(entry, "numeric_types").as_array()) {
                const std::string t = type.as_string();
                Outcome outcome{};
                if (t == "double")
                    outcome = run_case<double>(document, input, expected, member(entry, "compare"), tolerance, dump);
                else if (t == "float")
                    outcome = run_case<float>(document, input, expected, member(entry, "compare"), tolerance, dump);
                else
                    throw std::runtime_error("unknown numeric type " + t);
                ++total;
                passed += outcome.passed ? 1 : 0;
                if (!(outcome.worst <= worst)) {
                    worst = outcome.worst;
                    worst_case = name + " (" + t + ")";
                }
                std::printf("%s %s (%s): max |error| %.3g, tolerance %.3g\n", outcome.passed ? "pass" : "FAIL",
                            name.c_str(), t.c_str(), outcome.worst, tolerance);
            }
        }
    } catch (const rtv::FormatError& e) {
        std::fprintf(stderr, "error: %s at %s: %s\n", e.rule, e.pointer.c_str(), e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    std::printf("simd level %s; cases passed %d/%d; worst error %.3g (%s)\n", rtv::kernels::simd_level(), passed,
                total, worst, worst_case.c_str());
    return passed == total && total > 0 ? 0 : 1;
}
