// A Proteus-style hand loader of a GuitarML state_dict file, with the three methods rtv::check_golden calls.
// docs/golden.md shows this file; tests/test_golden_state_dict.py checks that the two are the same text.
#pragma once

#include <RTNeural/RTNeural.h>

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

// SimpleRNN as GuitarML trains it: one LSTM or GRU ("rec"), one Linear ("lin") to one output, and, when
// model_data's skip is 1, input 0 added to that output. In and Hidden are fixed when the plugin compiles.
template <typename T, int In, int Hidden, bool IsLstm>
class StateDictAmp {
public:
    static constexpr int kGates = IsLstm ? 4 : 3;
    using Recurrent = std::conditional_t<IsLstm, RTNeural::LSTMLayerT<T, In, Hidden>,
                                         RTNeural::GRULayerT<T, In, Hidden>>;
    using Network = RTNeural::ModelT<T, In, 1, Recurrent, RTNeural::DenseT<T, Hidden, 1>>;

    // `file` is the whole parsed document. Throws when it is not the model this type was compiled for: a
    // loader that sized its loops for another hidden size would read past the arrays or leave weights at 0.
    void load(const nlohmann::json& file) {
        const auto& data = file.at("model_data");
        const auto& weights = file.at("state_dict");
        if (data.at("unit_type").get<std::string>() != (IsLstm ? "LSTM" : "GRU") ||
            data.at("input_size").get<int>() != In || data.at("hidden_size").get<int>() != Hidden ||
            data.at("output_size").get<int>() != 1) {
            throw std::runtime_error("model_data does not declare the model this adapter was compiled for");
        }
        skip = data.at("skip").get<int>() == 1;
        constexpr auto rows = static_cast<std::size_t>(kGates * Hidden);
        // PyTorch stores [gates * Hidden][inputs]; RTNeural's setters take [inputs][gates * Hidden].
        auto w = transposed(matrix(weights, "rec.weight_ih_l0", rows, In));
        auto u = transposed(matrix(weights, "rec.weight_hh_l0", rows, Hidden));
        auto bias_ih = vector(weights, "rec.bias_ih_l0", rows);
        auto bias_hh = vector(weights, "rec.bias_hh_l0", rows);
        auto& rec = network.template get<0>();
        if constexpr (IsLstm) {
            // RTNeural's LSTM has one bias; PyTorch adds its two on every step, so they are added once here.
            for (std::size_t i = 0; i < rows; ++i) bias_ih[i] += bias_hh[i];
            rec.setWVals(w);
            rec.setUVals(u);
            rec.setBVals(bias_ih);
        } else {
            // PyTorch's gate blocks are r, z, n; RTNeural's are z, r, n. Both bias rows are kept apart: the
            // recurrent bias of n sits inside r * (...), so the two cannot be summed as for the LSTM.
            for (auto* row : {&bias_ih, &bias_hh}) swap_rz(*row);
            for (auto& row : w) swap_rz(row);
            for (auto& row : u) swap_rz(row);
            rec.setWVals(w);
            rec.setUVals(u);
            rec.setBVals(std::vector<std::vector<T>>{bias_ih, bias_hh});
        }
        // nn.Linear's [outputs][inputs] is the orientation DenseT::setWeights takes: no transpose.
        auto& lin = network.template get<1>();
        lin.setWeights(matrix(weights, "lin.weight", 1, Hidden));
        lin.setBias(vector(weights, "lin.bias", 1).data());
        network.reset();
    }

    void reset() { network.reset(); }

    T forward(const T* x) {
        output[0] = network.forward(x) + (skip ? x[0] : T(0));
        return output[0];
    }

    const T* getOutputs() const { return output; }

private:
    using Matrix = std::vector<std::vector<T>>;

    static Matrix matrix(const nlohmann::json& weights, const char* key, std::size_t rows,
                         std::size_t columns) {
        auto m = weights.at(key).get<Matrix>();
        bool fits = m.size() == rows;
        for (const auto& row : m) fits = fits && row.size() == columns;
        if (!fits) throw std::runtime_error(std::string(key) + " does not have the shape model_data implies");
        return m;
    }

    static std::vector<T> vector(const nlohmann::json& weights, const char* key, std::size_t size) {
        auto v = weights.at(key).get<std::vector<T>>();
        if (v.size() != size) {
            throw std::runtime_error(std::string(key) + " does not have the size model_data implies");
        }
        return v;
    }

    static Matrix transposed(const Matrix& m) {
        Matrix t(m.front().size(), std::vector<T>(m.size()));
        for (std::size_t i = 0; i < m.size(); ++i)
            for (std::size_t j = 0; j < m[i].size(); ++j) t[j][i] = m[i][j];
        return t;
    }

    static void swap_rz(std::vector<T>& row) {
        std::swap_ranges(row.begin(), row.begin() + Hidden, row.begin() + Hidden);
    }

    Network network;
    bool skip = false;
    T output[1] = {};
};
