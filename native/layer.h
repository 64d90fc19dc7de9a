// The one interface every layer implements: fixed sizes, a state reset, and one time step.
#pragma once

#include <cstddef>

namespace rtv {

template <typename T>
class Layer {
public:
    virtual ~Layer() = default;

    virtual std::size_t in_size() const noexcept = 0;
    virtual std::size_t out_size() const noexcept = 0;

    // Zero the recurrent or convolution history (docs/format.md §5). Stateless layers have nothing to do.
    virtual void reset() noexcept {}

    // One time step: reads in_size() values from `in`, writes out_size() values to `out` (never aliased).
    // Never allocates and never throws: it runs in an audio callback.
    virtual void forward(const T* in, T* out) noexcept = 0;

    // Bytes this layer allocated (weights, state, scratch).
    virtual std::size_t bytes_held() const noexcept = 0;

    // Numbers the model file carried for this layer (a shared PReLU alpha counts once).
    virtual std::size_t param_count() const noexcept = 0;
};

}  // namespace rtv
