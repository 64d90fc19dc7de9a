// A fixed-size, zero-initialised, 64-byte aligned array owned by one layer or model.
//
// Every buffer the engine uses is one of these, allocated once at load time: a forward step only reads and
// writes them (no allocation, no exception), and `bytes()` is what `bytes_held` counts. 64 bytes is a cache
// line and the widest SIMD register (AVX-512), so vector kernels can rely on aligned starts.
#pragma once

#include <algorithm>
#include <cstddef>
#include <new>
#include <utility>

namespace rtv {

template <typename T>
class AlignedBuffer {
public:
    static constexpr std::size_t kAlignment = 64;

    AlignedBuffer() = default;

    explicit AlignedBuffer(std::size_t size)
        : data_(size == 0 ? nullptr
                          : static_cast<T*>(::operator new(size * sizeof(T), std::align_val_t{kAlignment}))),
          size_(size) {
        std::fill_n(data_, size_, T(0));
    }

    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;

    AlignedBuffer(AlignedBuffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

    AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }

    ~AlignedBuffer() { release(); }

    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t bytes() const noexcept { return size_ * sizeof(T); }
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    void zero() noexcept { std::fill_n(data_, size_, T(0)); }

private:
    void release() noexcept {
        if (data_ != nullptr) ::operator delete(data_, std::align_val_t{kAlignment});
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace rtv
