// _verifier_rtneural: the real RTNeural, from a user's checkout (RTNEURAL_DIR), behind the same small model
// surface as _verifier_engine, so that the two can be run side by side on the same file.
//
// This file is our adapter only; RTNeural's code is compiled from the user's headers and never copied here.
// It trusts nothing about the JSON it is given beyond what RTNeural itself checks: the Python side
// (verifier/engine/backends.py) runs our strict loader first and never hands RTNeural a document our loader
// refuses, because RTNeural crashes the process on some of them (unknown activation, empty layer list).

#include <RTNeural/RTNeural.h>

#include <rtneural_verifier/denormals.hpp>
#include <rtneural_verifier/heap.hpp>
#include <rtneural_verifier/latency.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

// At least RTNEURAL_DEFAULT_ALIGNMENT (16, or 32 with AVX); a cache line covers every build.
constexpr std::size_t kAlignment = 64;

template <typename T>
struct AlignedAllocator {
    using value_type = T;
    AlignedAllocator() = default;
    template <typename U>
    AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
        return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{kAlignment}));
    }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{kAlignment}); }
    template <typename U>
    bool operator==(const AlignedAllocator<U>&) const noexcept { return true; }
    template <typename U>
    bool operator!=(const AlignedAllocator<U>&) const noexcept { return false; }
};

template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

template <typename T>
using Input = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T>
constexpr const char* dtype_name() {
    return sizeof(T) == sizeof(float) ? "float32" : "float64";
}

// RTNeural's parseJson either throws (nlohmann or std exceptions) or returns null; both become a Python
// ValueError naming what RTNeural said, so a refusal is never a crash.
template <typename T>
std::unique_ptr<RTNeural::Model<T>> parse_model(const std::string& text) {
    std::unique_ptr<RTNeural::Model<T>> model;
    try {
        const auto document = nlohmann::json::parse(text);
        model = RTNeural::json_parser::parseJson<T>(document, false);
    } catch (const std::exception& error) {
        throw py::value_error(std::string("RTNeural's parseJson threw: ") + error.what());
    }
    if (!model)
        throw py::value_error("RTNeural's parseJson returned no model (in_shape or layers not an array, "
                              "or a conv2d shape it rejects)");
    // A model without layers would crash on its first size query or forward() (docs/format.md §2).
    if (model->layers.empty())
        throw py::value_error("RTNeural built a model with no layers (every entry was empty or unknown)");
    for (const auto* layer : model->layers)
        if (layer == nullptr)
            throw py::value_error("RTNeural built a model with a null layer");
    return model;
}

// The C heap a load leaves held (rtv::heap::malloc_in_use, the C++ checker's own measure, so that both
// report the same figure): RTNeural's Eigen backend takes its matrices from malloc directly, not from
// operator new, so a malloc-level figure is the only one that sees everything a loaded model holds.
inline std::int64_t heap_in_use() noexcept { return rtv::heap::malloc_in_use(); }

template <typename T>
class RTNeuralModel {
public:
    explicit RTNeuralModel(const std::string& text) : RTNeuralModel(text, heap_in_use()) {}

    int in_size() const { return in_size_; }
    int out_size() const { return out_size_; }
    // Heap bytes still held once parseJson returned and its parsed document was freed: the model's own
    // weights, state and buffers (and this adapter's input row). -1 where the allocator cannot say.
    std::int64_t bytes_held() const { return bytes_held_; }

    void reset() { model_->reset(); }

private:
    RTNeuralModel(const std::string& text, std::int64_t heap_before)
        : model_(parse_model<T>(text)),
          in_size_(model_->getInSize()),
          out_size_(model_->getOutSize()),
          input_(static_cast<std::size_t>(in_size_), T(0)),
          bytes_held_(heap_before < 0 ? -1 : heap_in_use() - heap_before) {
        // RTNeural's STL backend allocates state uninitialised: reset() before the first step (docs/format.md §5).
        model_->reset();
    }

public:
    py::array_t<T> forward(const Input<T>& x) {
        if (x.ndim() != 1)
            throw py::value_error("forward(x): expected a 1-D array of " + std::to_string(in_size_) +
                                  " values, found " + std::to_string(x.ndim()) + " dimension(s)");
        check_width(x.shape(0), "forward(x)");
        py::array_t<T> out(out_size_);
        step(x.data(), out.mutable_data());
        return out;
    }

    py::array_t<T> run(const Input<T>& xs) { return stream(xs, false, "run(xs)"); }
    py::array_t<T> run_frames(const Input<T>& xs) { return stream(xs, true, "run_frames(xs)"); }

    // Per-step latency in ns of forward() alone, measured exactly as _verifier_engine measures it (the same
    // rtv::InputPattern from the same seed, signal then silence and flush-to-zero as there, reset outside the
    // timed region, GIL released), so that the two backends' figures can be put side by side. `outputs`
    // receives RTNeural's raw outputs (getOutputs, without the verifier's skip connection).
    py::array_t<std::int64_t> time_forward(std::size_t steps, std::size_t warmup, bool reset_each,
                                           std::uint64_t seed, std::int64_t signal_steps, bool flush_to_zero,
                                           py::object outputs) {
        if (flush_to_zero && !rtv::kFlushToZeroAvailable)
            throw py::value_error("flush_to_zero: this CPU has no flush-to-zero switch the adapter can set");
        T* out_rows = writable_rows(outputs, steps);
        const std::size_t width = static_cast<std::size_t>(in_size_);
        const std::size_t out_width = static_cast<std::size_t>(out_size_);
        const std::size_t signal =
            signal_steps < 0 ? rtv::InputPattern<T>::kAllSignal : static_cast<std::size_t>(signal_steps);
        const rtv::InputPattern<T> inputs(width, steps + warmup, seed, signal);
        py::array_t<std::int64_t> times(static_cast<py::ssize_t>(steps));
        std::int64_t* dst = times.mutable_data();
        {
            py::gil_scoped_release release;
            using clock = std::chrono::steady_clock;
            volatile T sink = T(0);  // keeps the compiler from discarding the work
            model_->reset();
            {
                const rtv::ScopedFlushToZero ftz(flush_to_zero);
                for (std::size_t i = 0; i < warmup + steps; ++i) {
                    if (reset_each)
                        model_->reset();
                    // The aligned copy a plugin makes once per block; outside the timed region, like the reset.
                    std::copy_n(inputs.row(i), width, input_.data());
                    const auto start = clock::now();
                    sink = model_->forward(input_.data());
                    const auto stop = clock::now();
                    if (i >= warmup) {
                        dst[i - warmup] = std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count();
                        if (out_rows != nullptr)
                            std::copy_n(model_->getOutputs(), out_width, out_rows + (i - warmup) * out_width);
                    }
                }
            }
            (void)sink;
            model_->reset();
        }
        return times;
    }

private:
    // The caller's own array, written in place: never a converted copy, which would take the outputs away.
    T* writable_rows(const py::object& outputs, std::size_t steps) const {
        if (outputs.is_none())
            return nullptr;
        if (!py::isinstance<py::array>(outputs))
            throw py::value_error("outputs must be a numpy array or None");
        auto array = py::reinterpret_borrow<py::array>(outputs);
        const bool fits = array.dtype().is(py::dtype::of<T>()) && array.ndim() == 2 &&
                          array.shape(0) == static_cast<py::ssize_t>(steps) && array.shape(1) == out_size_ &&
                          array.writeable() && (array.flags() & py::array::c_style) != 0;
        if (!fits)
            throw py::value_error("outputs must be a writable C-contiguous [" + std::to_string(steps) + ", " +
                                  std::to_string(out_size_) + "] array of the model's dtype");
        return static_cast<T*>(array.mutable_data());
    }

    void check_width(py::ssize_t found, const char* what) const {
        if (found != in_size_)
            throw py::value_error(std::string(what) + ": expected " + std::to_string(in_size_) +
                                  " input values per step, found " + std::to_string(found));
    }

    // RTNeural's Eigen layers may map their input as aligned memory, so every step goes through input_.
    void step(const T* x, T* out) {
        std::copy_n(x, in_size_, input_.data());
        model_->forward(input_.data());
        std::copy_n(model_->getOutputs(), out_size_, out);
    }

    py::array_t<T> stream(const Input<T>& xs, bool reset_each, const char* what) {
        if (xs.ndim() != 2)
            throw py::value_error(std::string(what) + ": expected a [steps, " + std::to_string(in_size_) +
                                  "] array, found " + std::to_string(xs.ndim()) + " dimension(s)");
        check_width(xs.shape(1), what);
        const py::ssize_t steps = xs.shape(0);
        py::array_t<T> out({steps, static_cast<py::ssize_t>(out_size_)});
        const T* in = xs.data();
        T* dst = out.mutable_data();
        for (py::ssize_t t = 0; t < steps; ++t) {
            if (reset_each)
                model_->reset();
            step(in + t * in_size_, dst + t * out_size_);
        }
        return out;
    }

    std::unique_ptr<RTNeural::Model<T>> model_;
    int in_size_;
    int out_size_;
    AlignedVector<T> input_;
    std::int64_t bytes_held_;  // after every allocating member above
};

template <typename T>
void bind_model(py::module_& m, const char* name) {
    using M = RTNeuralModel<T>;
    py::class_<M>(m, name)
        .def(py::init<const std::string&>(), py::arg("text"),
             "Parse keras-json TEXT with RTNeural::json_parser::parseJson; ValueError when RTNeural refuses.")
        .def_property_readonly("in_size", &M::in_size)
        .def_property_readonly("out_size", &M::out_size)
        .def_property_readonly("dtype", [](const M&) { return dtype_name<T>(); })
        .def_property_readonly("bytes_held", &M::bytes_held,
                               "Heap bytes the loaded model holds (glibc mallinfo2 growth over the load); -1 unknown.")
        .def("reset", &M::reset)
        .def("forward", &M::forward, py::arg("x"), "One step; the whole output vector (getOutputs), a copy.")
        .def("run", &M::run, py::arg("xs"), "Stream [steps, in] from the current state.")
        .def("run_frames", &M::run_frames, py::arg("xs"), "Each step from reset state.")
        .def("time_forward", &M::time_forward, py::arg("steps"), py::arg("warmup"), py::arg("reset_each"),
             py::arg("seed") = 0, py::arg("signal_steps") = -1, py::arg("flush_to_zero") = false,
             py::arg("outputs") = py::none(),
             "Per-step latency in ns (steady_clock), random inputs in [-1, 1] for the first signal_steps "
             "steps (-1: all), zeros after; flush_to_zero sets FTZ+DAZ around the loop only.");
}

}  // namespace

PYBIND11_MODULE(_verifier_rtneural, m) {
    m.doc() = "The real RTNeural (from RTNEURAL_DIR) behind verifier's model surface; see verifier.engine.backends.";
    bind_model<float>(m, "ModelFloat32");
    bind_model<double>(m, "ModelFloat64");
    m.attr("backend") = VERIFIER_RTNEURAL_BACKEND;
    m.attr("alignment") = RTNEURAL_DEFAULT_ALIGNMENT;
    m.attr("rtneural_dir") = VERIFIER_RTNEURAL_DIR;
    m.attr("FLUSH_TO_ZERO") = rtv::kFlushToZeroAvailable;
    m.attr("build_flags") = VERIFIER_RTNEURAL_FLAGS;
#if RTNEURAL_AVX_ENABLED
    m.attr("avx") = true;
#else
    m.attr("avx") = false;
#endif
}
