// The Python face of the engine (with reader_bindings.cpp, the only code that knows pybind11): converts a
// parsed Python document to rtv::Json, loads it, and exposes Model32 / Model64. verifier/engine/model.py wraps
// these in the public API.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <iterator>
#include <mutex>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "allocation_counter.h"
#include "bandwidth_probe.h"
#include "json_value.h"
#include "kernels.h"
#include "loader.h"
#include "reader_bindings.h"
#include "rtneural_verifier/denormals.hpp"
#include "rtneural_verifier/latency.hpp"

namespace py = pybind11;

namespace {

std::string type_name(py::handle obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

// Converts a JSON scalar; returns false for a container (dict, list, tuple), which the caller queues.
bool convert_scalar(py::handle obj, rtv::Json& out, const std::string& pointer) {
    PyObject* p = obj.ptr();
    if (p == Py_None) out = rtv::Json();
    else if (PyBool_Check(p)) out = rtv::Json::boolean(p == Py_True);
    else if (PyFloat_Check(p)) out = rtv::Json::number(PyFloat_AS_DOUBLE(p));
    else if (PyLong_Check(p)) {
        double x = PyLong_AsDouble(p);
        if (x == -1.0 && PyErr_Occurred()) {  // beyond double range: as good as infinite for every check
            PyErr_Clear();
            x = _PyLong_Sign(p) < 0 ? -HUGE_VAL : HUGE_VAL;
        }
        out = rtv::Json::number(x);
    } else if (PyUnicode_Check(p)) {
        Py_ssize_t size = 0;
        const char* text = PyUnicode_AsUTF8AndSize(p, &size);
        if (text == nullptr) {
            PyErr_Clear();
            throw rtv::FormatError(rtv::rules::kNotUtf8, pointer, "string is not valid Unicode (lone surrogate)",
                                   "a UTF-8 string", "an unencodable string");
        }
        out = rtv::Json::string(std::string(text, static_cast<std::size_t>(size)));
    } else if (PyDict_Check(p) || PyList_Check(p) || PyTuple_Check(p)) return false;
    else
        throw rtv::FormatError(rtv::rules::kWrongType, pointer, "not a JSON value", "null, boolean, number, string, list or dict",
                               "a Python " + type_name(obj));
    return true;
}

// Iterative, so that nesting cannot overflow the C++ stack; containers get their final size (the number of
// items Python holds, never a declared size) before their children are filled, so the `target` pointers
// stay valid. verifier.format.reader.document.read_document has refused deeper documents already; this is the
// engine's own guard for a direct caller.
rtv::Json to_json(py::handle root, std::size_t max_depth) {
    struct Task {
        py::handle obj;
        rtv::Json* target;
        std::size_t depth;
        std::string pointer;
    };
    rtv::Json result;
    if (convert_scalar(root, result, "")) return result;
    std::vector<Task> tasks{{root, &result, 1, ""}};
    while (!tasks.empty()) {
        Task task = std::move(tasks.back());
        tasks.pop_back();
        if (task.depth > max_depth)
            throw rtv::FormatError(rtv::rules::kTooDeep, task.pointer, "the document nests deeper than the limit",
                                   "at most " + std::to_string(max_depth) + " levels (Limits.max_depth)", "deeper");
        auto child = [&](py::handle value, rtv::Json& slot, std::string pointer) {
            if (!convert_scalar(value, slot, pointer)) tasks.push_back({value, &slot, task.depth + 1, std::move(pointer)});
        };
        if (PyDict_Check(task.obj.ptr())) {
            auto dict = py::reinterpret_borrow<py::dict>(task.obj);
            *task.target = rtv::Json::object(dict.size());
            auto& members = task.target->as_object();
            std::size_t i = 0;
            for (auto item : dict) {
                if (!PyUnicode_Check(item.first.ptr()))
                    throw rtv::FormatError(rtv::rules::kWrongType, task.pointer, "object keys must be strings",
                                           "a string key", "a " + type_name(item.first) + " key");
                Py_ssize_t size = 0;
                const char* key = PyUnicode_AsUTF8AndSize(item.first.ptr(), &size);
                if (key == nullptr) {
                    PyErr_Clear();
                    throw rtv::FormatError(rtv::rules::kNotUtf8, task.pointer, "a key is not valid Unicode (lone surrogate)",
                                           "a UTF-8 key", "an unencodable key");
                }
                members[i].first.assign(key, static_cast<std::size_t>(size));
                child(item.second, members[i].second, rtv::pointer_child(task.pointer, members[i].first));
                ++i;
            }
        } else {
            auto items = py::reinterpret_borrow<py::sequence>(task.obj);
            const std::size_t n = items.size();
            *task.target = rtv::Json::array(n);
            auto& elements = task.target->as_array();
            for (std::size_t i = 0; i < n; ++i) child(items[i], elements[i], rtv::pointer_child(task.pointer, i));
        }
    }
    return result;
}

template <typename T>
using Array = py::array_t<T, py::array::c_style>;

// Every call that reads or changes the model's state (its layers' outputs, recurrent state and history)
// holds `mutex_`, taken after the GIL is released, so that two Python threads on one model take turns
// instead of interleaving steps (run/time_forward run without the GIL). Locking never allocates.
template <typename T>
class Engine {
public:
    Engine(py::handle document, std::size_t max_layer_width, std::size_t max_total_parameters,
           std::size_t max_state_values, std::size_t max_depth)
        : loaded_(load(document, rtv::Limits{max_layer_width, max_total_parameters, max_state_values, max_depth})) {
        // docs/format.md §5: RTNeural's state starts uninitialised; ours starts as after reset().
        model().reset();
    }

    std::size_t in_size() const { return loaded_.model.in_size(); }
    std::size_t out_size() const { return loaded_.model.out_size(); }
    std::size_t param_count() const { return loaded_.model.param_count(); }
    std::size_t bytes_held() const { return loaded_.model.bytes_held(); }

    std::vector<std::tuple<std::string, std::string, std::string>> warnings() const {
        std::vector<std::tuple<std::string, std::string, std::string>> out;
        for (const auto& w : loaded_.warnings) out.emplace_back(w.rule, w.pointer, w.message);
        return out;
    }

    std::vector<std::tuple<std::size_t, std::string, std::size_t, std::size_t, std::string, std::string>> layers() const {
        std::vector<std::tuple<std::size_t, std::string, std::size_t, std::size_t, std::string, std::string>> out;
        for (const auto& l : loaded_.layers) out.emplace_back(l.index, l.type, l.in_size, l.out_size, l.activation, l.pointer);
        return out;
    }

    void reset() {
        py::gil_scoped_release release;
        std::lock_guard<std::mutex> lock(mutex_);
        model().reset();
    }

    Array<T> forward(const Array<T>& x) {
        check(x, 1, "x");
        Array<T> y(static_cast<py::ssize_t>(out_size()));
        const T* in = x.data();
        T* dst = y.mutable_data();
        {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(mutex_);
            const T* out = model().forward(in);
            std::copy(out, out + out_size(), dst);
        }
        return y;
    }

    Array<T> run(const Array<T>& xs, bool reset_each) {
        check(xs, 2, "xs");
        const auto steps = static_cast<std::size_t>(xs.shape(0));
        Array<T> ys({static_cast<py::ssize_t>(steps), static_cast<py::ssize_t>(out_size())});
        const T* in = xs.data();
        T* dst = ys.mutable_data();
        {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(mutex_);
            for (std::size_t t = 0; t < steps; ++t) {
                if (reset_each) model().reset();
                const T* out = model().forward(in + t * in_size());
                std::copy(out, out + out_size(), dst + t * out_size());
            }
        }
        return ys;
    }

    std::vector<Array<T>> layer_outputs(const Array<T>& x) {
        check(x, 1, "x");
        std::vector<Array<T>> out;
        for (std::ptrdiff_t layer : loaded_.entry_outputs) {
            const bool input = layer < 0;
            const std::size_t n = input ? in_size() : model().layer_out_size(static_cast<std::size_t>(layer));
            out.emplace_back(static_cast<py::ssize_t>(n));
        }
        const T* in = x.data();
        std::vector<T*> targets;
        for (auto& array : out) targets.push_back(array.mutable_data());
        {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(mutex_);
            model().forward(in);
            for (std::size_t i = 0; i < targets.size(); ++i) {
                const std::ptrdiff_t layer = loaded_.entry_outputs[i];
                const bool input = layer < 0;
                const std::size_t n = input ? in_size() : model().layer_out_size(static_cast<std::size_t>(layer));
                const T* src = input ? in : model().layer_output(static_cast<std::size_t>(layer));
                std::copy(src, src + n, targets[i]);
            }
        }
        return out;
    }

    // Per-step latency in ns around forward() only (a reset, when asked for, happens outside the timed
    // span). Inputs come from rtv::InputPattern, drawn before timing: random rows in [-1, 1] for the first
    // `signal_steps` steps (counting warm-up; -1: every step), exact zeros afterwards, so that the hidden
    // states decaying after the signal are what is timed. `flush_to_zero` sets FTZ+DAZ around the loop only
    // (ValueError where the CPU has no such switch). `outputs`, when given, is a C-contiguous [steps,
    // out_size] array of the model's type that receives each timed step's output, copied outside the timed
    // span. Leaves the model reset.
    py::array_t<std::int64_t> time_forward(std::size_t steps, std::size_t warmup, bool reset_each, std::uint64_t seed,
                                           std::int64_t signal_steps, bool flush_to_zero, py::object outputs) {
        if (flush_to_zero && !rtv::kFlushToZeroAvailable)
            throw py::value_error("flush_to_zero: this CPU has no flush-to-zero switch the engine can set");
        T* out_rows = writable_rows(outputs, steps);
        const std::size_t signal =
            signal_steps < 0 ? rtv::InputPattern<T>::kAllSignal : static_cast<std::size_t>(signal_steps);
        const rtv::InputPattern<T> inputs(in_size(), steps + warmup, seed, signal);
        py::array_t<std::int64_t> times(static_cast<py::ssize_t>(steps));
        std::int64_t* dst = times.mutable_data();
        const std::size_t width = out_size();
        {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(mutex_);
            using clock = std::chrono::steady_clock;
            volatile T sink = T(0);
            model().reset();
            {
                const rtv::ScopedFlushToZero ftz(flush_to_zero);
                for (std::size_t i = 0; i < warmup + steps; ++i) {
                    if (reset_each) model().reset();
                    const T* x = inputs.row(i);
                    const auto start = clock::now();
                    const T* out = model().forward(x);
                    const auto stop = clock::now();
                    sink = out[0];
                    if (i >= warmup) {
                        dst[i - warmup] = std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count();
                        if (out_rows != nullptr) std::copy(out, out + width, out_rows + (i - warmup) * width);
                    }
                }
            }
            (void)sink;
            model().reset();
        }
        return times;
    }

private:
    // A Document (read_json, read with the same max_depth) is loaded from its C++ tree as is; a Python dict
    // is converted first.
    static rtv::LoadedModel<T> load(py::handle document, const rtv::Limits& limits) {
        if (const rtv::Json* parsed = rtv::parsed_document(document)) return rtv::load_keras_json<T>(*parsed, limits);
        return rtv::load_keras_json<T>(to_json(document, limits.max_depth), limits);
    }

    rtv::Model<T>& model() { return loaded_.model; }

    // The caller's own array, written in place: never a converted copy, which would take the outputs away.
    T* writable_rows(const py::object& outputs, std::size_t steps) const {
        if (outputs.is_none()) return nullptr;
        if (!py::isinstance<py::array>(outputs)) throw py::value_error("outputs must be a numpy array or None");
        auto array = py::reinterpret_borrow<py::array>(outputs);
        const bool fits = array.dtype().is(py::dtype::of<T>()) && array.ndim() == 2 &&
                          array.shape(0) == static_cast<py::ssize_t>(steps) &&
                          array.shape(1) == static_cast<py::ssize_t>(out_size()) && array.writeable() &&
                          (array.flags() & py::array::c_style) != 0;
        if (!fits)
            throw py::value_error("outputs must be a writable C-contiguous [" + std::to_string(steps) + ", " +
                                  std::to_string(out_size()) + "] array of the model's dtype");
        return static_cast<T*>(array.mutable_data());
    }

    // verifier/engine/model.py validates first; this keeps a direct caller from reading out of bounds.
    void check(const Array<T>& a, py::ssize_t ndim, const char* name) const {
        const auto width = static_cast<py::ssize_t>(in_size());
        if (a.ndim() != ndim || a.shape(ndim - 1) != width)
            throw py::value_error(std::string(name) + " must have " + std::to_string(ndim) + " dimension(s), the last of size " +
                                  std::to_string(width));
    }

    rtv::LoadedModel<T> loaded_;
    std::mutex mutex_;
};

template <typename T>
void bind_engine(py::module_& m, const char* name) {
    py::class_<Engine<T>>(m, name)
        .def(py::init<py::handle, std::size_t, std::size_t, std::size_t, std::size_t>(), py::arg("document"),
             py::kw_only(), py::arg("max_layer_width"), py::arg("max_total_parameters"), py::arg("max_state_values"),
             py::arg("max_depth"))
        .def_property_readonly("in_size", &Engine<T>::in_size)
        .def_property_readonly("out_size", &Engine<T>::out_size)
        .def_property_readonly("param_count", &Engine<T>::param_count)
        .def_property_readonly("bytes_held", &Engine<T>::bytes_held)
        .def_property_readonly("warnings", &Engine<T>::warnings)
        .def_property_readonly("layers", &Engine<T>::layers)
        .def("reset", &Engine<T>::reset)
        .def("forward", &Engine<T>::forward, py::arg("x"))
        .def("run", &Engine<T>::run, py::arg("xs"), py::arg("reset_each"))
        .def("layer_outputs", &Engine<T>::layer_outputs, py::arg("x"))
        .def("time_forward", &Engine<T>::time_forward, py::arg("steps"), py::arg("warmup"), py::arg("reset_each"),
             py::arg("seed"), py::arg("signal_steps") = -1, py::arg("flush_to_zero") = false,
             py::arg("outputs") = py::none());
}

}  // namespace

PYBIND11_MODULE(_verifier_engine, m) {
    m.doc() = "Native keras-json engine of rtneural-verifier (use verifier.load).";
    // A dispatch level asked for and not granted fails the import: nothing may run, or report, a level it
    // did not use.
    if (const char* problem = rtv::kernels::dispatch_problem()) throw py::import_error(problem);

    // FormatError(rule, pointer, message, expected, found): the engine package re-raises it as
    // verifier.errors.ModelFormatError.
    PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> format_error;
    format_error.call_once_and_store_result(
        [&]() { return py::object(py::exception<rtv::FormatError>(m, "FormatError", PyExc_ValueError)); });
    py::register_exception_translator([](std::exception_ptr error) {
        try {
            if (error) std::rethrow_exception(error);
        } catch (const rtv::FormatError& e) {
            py::tuple args = py::make_tuple(std::string(e.rule), e.pointer, std::string(e.what()), e.expected, e.found);
            PyErr_SetObject(format_error.get_stored().ptr(), args.ptr());
        }
    });

    // Performance hooks (tests/bench/test_engine_speed.py, tests/test_no_allocation.py).
    m.def("simd_level", &rtv::kernels::simd_level,
          "The dispatch level whose kernels run (the best this CPU supports unless DISPATCH_VARIABLE named one).");
    m.def(
        "simd_levels",
        [] {
            std::vector<std::pair<std::string, bool>> levels;
            for (const auto& level : rtv::kernels::simd_levels()) levels.emplace_back(level.name, level.supported);
            return levels;
        },
        "The dispatch levels of this build, best first, as (name, this CPU runs it).");
    m.attr("DISPATCH_VARIABLE") = rtv::kernels::dispatch_variable();
    // Which compiler built this module: tox -e portability checks that its Clang build is one.
#if defined(__clang__)
    m.attr("COMPILER") = "clang " __clang_version__;
#elif defined(__GNUC__)
    m.attr("COMPILER") = "gcc " __VERSION__;
#elif defined(_MSC_VER)
    m.attr("COMPILER") = "msvc " + std::to_string(_MSC_VER);
#else
    m.attr("COMPILER") = "unknown";
#endif
    m.attr("FLUSH_TO_ZERO") = rtv::kFlushToZeroAvailable;
    m.def("flush_to_zero_active", &rtv::flush_to_zero_active,
          "Whether the calling thread runs with flush-to-zero and denormals-are-zero set (x86 MXCSR).");
    m.def("allocation_count", &rtv::allocation_count,
          "Calls to operator new made by this module's code so far (compare differences).");
    m.def(
        "read_bandwidth",
        [](std::size_t bytes, std::size_t repeats) {
            py::gil_scoped_release release;
            return rtv::read_bandwidth(bytes, repeats);
        },
        py::arg("bytes"), py::arg("repeats"),
        "Median bytes per second at which one core reads a cache-warm array of `bytes` bytes.");

    rtv::bind_reader(m);
    std::vector<std::string> rule_ids(std::begin(rtv::rules::kAll), std::end(rtv::rules::kAll));
    m.attr("RULE_IDS") = rule_ids;
    bind_engine<float>(m, "Model32");
    bind_engine<double>(m, "Model64");
}
