// A chain of layers with one preallocated output buffer per layer (docs/format.md §5): forward() consumes one
// time step, state persists across steps until reset().
#pragma once

#include <memory>
#include <vector>

#include "aligned_buffer.h"
#include "layer.h"

namespace rtv {

template <typename T>
class Model {
public:
    explicit Model(std::size_t in_size) : in_size_(in_size) {}

    // Load time only: takes the layer and allocates its output buffer.
    void add(std::unique_ptr<Layer<T>> layer) {
        outputs_.emplace_back(layer->out_size());
        layers_.push_back(std::move(layer));
    }

    std::size_t in_size() const noexcept { return in_size_; }
    std::size_t out_size() const noexcept { return layers_.empty() ? in_size_ : layers_.back()->out_size(); }
    std::size_t layer_count() const noexcept { return layers_.size(); }

    void reset() noexcept {
        for (auto& layer : layers_) layer->reset();
    }

    // One step; returns the last layer's output (out_size() values, valid until the next call). The loader
    // never builds a model without layers.
    const T* forward(const T* in) noexcept {
        const T* x = in;
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            layers_[i]->forward(x, outputs_[i].data());
            x = outputs_[i].data();
        }
        return x;
    }

    // The output layer `i` wrote in the last forward().
    const T* layer_output(std::size_t i) const noexcept { return outputs_[i].data(); }
    std::size_t layer_out_size(std::size_t i) const noexcept { return layers_[i]->out_size(); }

    std::size_t bytes_held() const noexcept {
        std::size_t total = 0;
        for (std::size_t i = 0; i < layers_.size(); ++i) total += layers_[i]->bytes_held() + outputs_[i].bytes();
        return total;
    }

    std::size_t param_count() const noexcept {
        std::size_t total = 0;
        for (const auto& layer : layers_) total += layer->param_count();
        return total;
    }

private:
    std::size_t in_size_;
    std::vector<std::unique_ptr<Layer<T>>> layers_;
    std::vector<AlignedBuffer<T>> outputs_;
};

}  // namespace rtv
