// Binding of the reader. A Document keeps the parsed JSON in C++: the engine builds a model from it (once per
// copy, without reading text again), and `to_python()` builds the Python tree only for the code that needs one.
#include "reader_bindings.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "json_reader.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace rtv {
namespace {

struct Document {
    Json root;
    std::vector<ReadNote> warnings;
    std::size_t source_bytes = 0;
};

py::tuple note_tuple(const ReadNote& n) { return py::make_tuple(n.rule, n.pointer, n.message, n.expected, n.found); }

// Depth is bounded by the reader (the max_depth it was given), so recursion is safe here. Containers nested
// deeper than `levels` become None (an outline of the document).
py::object number_object(JsonRef v) {
    if (v.is_integer()) return py::reinterpret_steal<py::object>(PyLong_FromLongLong(v.as_integer()));
    return py::reinterpret_steal<py::object>(PyFloat_FromDouble(v.as_number()));
}

py::object to_python(JsonRef v, std::size_t levels) {
    if ((v.is_array() || v.is_object()) && levels == 0) return py::none();
    switch (v.kind()) {
        case Json::Kind::Null: return py::none();
        case Json::Kind::Bool: return py::bool_(v.as_bool());
        case Json::Kind::Number: return number_object(v);
        case Json::Kind::String: {
            const std::string& s = v.as_string();
            return py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr));
        }
        case Json::Kind::Array: {
            const std::size_t n = v.size();
            PyObject* list = PyList_New(static_cast<Py_ssize_t>(n));
            if (list == nullptr) throw py::error_already_set();
            auto owned = py::reinterpret_steal<py::object>(list);
            for (std::size_t i = 0; i < n; ++i)
                PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), to_python(v.at(i), levels - 1).release().ptr());
            return owned;
        }
        case Json::Kind::Object: {
            py::dict dict;
            for (const auto& [key, value] : v.as_object()) {
                auto name = py::reinterpret_steal<py::object>(
                    PyUnicode_DecodeUTF8(key.data(), static_cast<Py_ssize_t>(key.size()), nullptr));
                if (!name) throw py::error_already_set();
                dict[name] = to_python(value, levels - 1);
            }
            return std::move(dict);
        }
    }
    return py::none();
}

bool same_dims(JsonRef v, const std::vector<std::size_t>& dims, std::size_t from);

// The dims of `v` when it is a rectangular nest of numbers (every list at a level as long as the others, a
// number at every leaf, no empty list), else nullopt. A bare number has no dims.
std::optional<std::vector<std::size_t>> numeric_dims(JsonRef v) {
    if (v.is_number()) return std::vector<std::size_t>{};
    if (const NumberBlock* block = v.block())  // rectangular by construction
        return std::vector<std::size_t>(block->dims.begin() + static_cast<std::ptrdiff_t>(v.level()), block->dims.end());
    if (!v.is_array() || v.size() == 0) return std::nullopt;
    auto inner = numeric_dims(v.at(0));
    if (!inner) return std::nullopt;
    for (std::size_t i = 1; i < v.size(); ++i) {
        if (!same_dims(v.at(i), *inner, 0)) return std::nullopt;
    }
    inner->insert(inner->begin(), v.size());
    return inner;
}

// Whether `v` is a rectangular nest of numbers with dims[from:].
bool same_dims(JsonRef v, const std::vector<std::size_t>& dims, std::size_t from) {
    if (from == dims.size()) return v.is_number();
    if (const NumberBlock* block = v.block())
        return std::equal(block->dims.begin() + static_cast<std::ptrdiff_t>(v.level()), block->dims.end(),
                          dims.begin() + static_cast<std::ptrdiff_t>(from), dims.end());
    if (!v.is_array() || v.size() != dims[from]) return false;
    for (std::size_t i = 0; i < v.size(); ++i)
        if (!same_dims(v.at(i), dims, from + 1)) return false;
    return true;
}

// A rectangular nest of numbers kept in the C++ document: what validate needs of a large weight array (its
// dims; every leaf is a finite number, which the reader has checked) without a Python float per number.
struct NumericArray {
    py::object owner;  // the Document, kept alive while a view of its tree exists
    JsonRef node;
    std::vector<std::size_t> dims;

    JsonRef first_leaf() const {
        JsonRef v = node;
        while (v.is_array()) v = v.at(0);
        return v;
    }
    // Row-major leaves, as doubles (a part of a flat array is copied as it is stored).
    static void flatten(JsonRef v, double*& out) {
        if (v.is_number()) {
            *out++ = v.as_number();
            return;
        }
        if (const NumberBlock* block = v.block()) {
            const std::size_t n = v.level() == 0 ? block->count() : block->stride(v.level() - 1);
            block->copy(v.offset(), n, out);
            out += n;
            return;
        }
        for (std::size_t i = 0; i < v.size(); ++i) flatten(v.at(i), out);
    }
};

py::array_t<double> to_numpy(const NumericArray& a) {
    std::vector<py::ssize_t> shape(a.dims.begin(), a.dims.end());
    py::array_t<double> out(shape);
    double* p = out.mutable_data();
    NumericArray::flatten(a.node, p);
    return out;
}

// The value of a key validate never reads: its kind is kept, its content stays in C++.
struct Skipped {
    std::string kind;
};

const char* kind_name(JsonRef v) {
    switch (v.kind()) {
        case Json::Kind::Null: return "null";
        case Json::Kind::Bool: return "boolean";
        case Json::Kind::Number: return v.is_integer() ? "integer" : "number";
        case Json::Kind::String: return "string";
        case Json::Kind::Array: return "array";
        case Json::Kind::Object: return "object";
    }
    return "?";
}

// The skeleton of a keras-json document for validate: every key validate reads as Python objects, except
// that a weight array (and, when it is ragged, each rectangular part of it) with at least `min_leaves`
// numbers is a NumericArray, and the values of keys validate never reads (top level: other than in_shape and
// layers; in an entry: other than `entry_keys`) are Skipped. Its size is that of the declarations, not of
// the numbers.
class Skeleton {
public:
    Skeleton(py::object owner, std::size_t min_leaves, std::unordered_set<std::string> entry_keys,
             std::unordered_set<std::string> top_keys)
        : owner_(std::move(owner)), min_leaves_(min_leaves), entry_keys_(std::move(entry_keys)),
          top_keys_(std::move(top_keys)) {}

    py::object root(const Json& v) const {
        if (!v.is_object()) return to_python(v, kAll);
        py::dict out;
        for (const auto& [key, value] : v.as_object()) {
            py::object item;
            if (key == "in_shape" || top_keys_.count(key) != 0) item = to_python(value, kAll);
            else if (key == "layers") item = layers(value);
            else item = skipped(value);
            out[name(key)] = item;
        }
        return std::move(out);
    }

private:
    static constexpr std::size_t kAll = std::numeric_limits<std::size_t>::max();

    static py::object name(const std::string& key) {
        auto text = py::reinterpret_steal<py::object>(
            PyUnicode_DecodeUTF8(key.data(), static_cast<Py_ssize_t>(key.size()), nullptr));
        if (!text) throw py::error_already_set();
        return text;
    }

    static py::object skipped(JsonRef v) { return py::cast(Skipped{kind_name(v)}); }

    py::object layers(const Json& v) const {
        if (!v.is_array() || v.is_numbers()) return to_python(v, kAll);
        py::list out;
        for (const Json& entry : v.as_array()) {
            if (!entry.is_object()) {
                out.append(to_python(entry, kAll));
                continue;
            }
            py::dict body;
            for (const auto& [key, value] : entry.as_object()) {
                py::object item;
                if (key == "weights" && value.is_array()) {
                    py::list arrays;
                    const JsonRef all(value);
                    for (std::size_t j = 0; j < all.size(); ++j) arrays.append(weight(all.at(j)));
                    item = std::move(arrays);
                } else if (entry_keys_.count(key) != 0) {
                    item = to_python(value, kAll);
                } else {
                    item = skipped(value);
                }
                body[name(key)] = item;
            }
            out.append(std::move(body));
        }
        return std::move(out);
    }

    py::object weight(JsonRef v) const {
        if (!v.is_array()) return to_python(v, kAll);
        if (auto dims = numeric_dims(v)) {
            std::size_t leaves = 1;
            for (std::size_t d : *dims) leaves *= d;
            if (leaves >= min_leaves_) return py::cast(NumericArray{owner_, v, std::move(*dims)});
        }
        const std::size_t n = v.size();
        PyObject* list = PyList_New(static_cast<Py_ssize_t>(n));
        if (list == nullptr) throw py::error_already_set();
        auto owned = py::reinterpret_steal<py::object>(list);
        for (std::size_t i = 0; i < n; ++i)
            PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), weight(v.at(i)).release().ptr());
        return owned;
    }

    py::object owner_;
    std::size_t min_leaves_;
    std::unordered_set<std::string> entry_keys_;
    std::unordered_set<std::string> top_keys_;
};

}  // namespace

const Json* parsed_document(py::handle obj) {
    if (!py::isinstance<Document>(obj)) return nullptr;
    return &obj.cast<const Document&>().root;
}

void bind_reader(py::module_& m) {
    // ReadError(rule, pointer, message, expected, found): verifier.format.reader.document re-raises it as a
    // ModelFormatError with the same rule id.
    PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> read_error;
    read_error.call_once_and_store_result(
        [&]() { return py::object(py::exception<ReadError>(m, "ReadError", PyExc_ValueError)); });
    py::register_exception_translator([](std::exception_ptr error) {
        try {
            if (error) std::rethrow_exception(error);
        } catch (const ReadError& e) {
            py::tuple args = note_tuple(e.note);
            PyErr_SetObject(read_error.get_stored().ptr(), args.ptr());
        }
    });

    py::class_<Document>(m, "Document", "A keras-json document parsed in C++ (make one with read_json).")
        .def_readonly("source_bytes", &Document::source_bytes)
        .def(
            "warnings",
            [](const Document& d) {
                py::list out;
                for (const auto& w : d.warnings) out.append(note_tuple(w));
                return out;
            },
            "The reader's warnings (RTN-W007) as (rule, pointer, message, expected, found) tuples.")
        .def(
            "to_python", [](const Document& d, std::size_t levels) { return to_python(d.root, levels); },
            py::arg("levels") = std::numeric_limits<std::size_t>::max(),
            "The document as Python dict/list/str/int/float/bool/None (built on each call); containers deeper "
            "than `levels` as None.")
        .def(
            "skeleton",
            [](py::object self, std::size_t min_leaves, std::vector<std::string> entry_keys,
               std::vector<std::string> top_keys) {
                const Document& d = self.cast<const Document&>();
                const Skeleton skeleton(self, min_leaves,
                                        std::unordered_set<std::string>(entry_keys.begin(), entry_keys.end()),
                                        std::unordered_set<std::string>(top_keys.begin(), top_keys.end()));
                return skeleton.root(d.root);
            },
            py::arg("min_leaves"), py::arg("entry_keys"), py::arg("top_keys") = std::vector<std::string>{},
            "The document as validate reads it: weight arrays of at least `min_leaves` numbers as NumericArray, "
            "values of keys other than in_shape, layers and `top_keys` (at the top) or `entry_keys` (in a layer "
            "entry) as Skipped.");

    py::class_<Skipped>(m, "Skipped", "The value of a key validate does not read (kept in C++).")
        .def_readonly("kind", &Skipped::kind)
        .def("__repr__", [](const Skipped& s) { return "<skipped " + s.kind + ">"; });

    py::class_<NumericArray>(m, "NumericArray",
                             "A rectangular nest of finite numbers held in the C++ document (a view, read-only).")
        .def_property_readonly("shape", [](const NumericArray& a) {
            py::tuple out(a.dims.size());
            for (std::size_t i = 0; i < a.dims.size(); ++i) out[i] = py::int_(a.dims[i]);
            return out;
        })
        .def_property_readonly("ndim", [](const NumericArray& a) { return a.dims.size(); })
        .def("__len__", [](const NumericArray& a) { return a.dims[0]; })
        .def("first", [](const NumericArray& a) { return number_object(a.first_leaf()); },
             "The first number (an int or a float, as the file writes it).")
        .def(
            "item",
            [](const NumericArray& a, const std::vector<std::size_t>& index) {
                JsonRef v = a.node;
                for (std::size_t i : index) {
                    if (!v.is_array() || i >= v.size()) throw py::index_error("index out of range");
                    v = v.at(i);
                }
                if (!v.is_number()) throw py::index_error("not a leaf");
                return number_object(v);
            },
            "The number at `index` (one index per dimension), as the file writes it.")
        .def("to_numpy", &to_numpy, "The numbers as a float64 array of `shape`.")
        // numpy's array protocol, so that a list holding views converts with np.asarray like nested lists
        .def(
            "__array__",
            [](const NumericArray& a, py::object dtype, py::object /*copy*/) {
                py::array_t<double> out = to_numpy(a);
                if (dtype.is_none()) return py::object(out);
                return out.attr("astype")(dtype);
            },
            py::arg("dtype") = py::none(), py::arg("copy") = py::none());

    m.def(
        "read_json",
        [](py::buffer data, std::size_t max_depth) {
            py::buffer_info info = data.request();
            const std::string_view text(static_cast<const char*>(info.ptr),
                                        static_cast<std::size_t>(info.size * info.itemsize));
            auto document = std::make_unique<Document>();
            document->source_bytes = text.size();
            {
                py::gil_scoped_release release;
                ReadResult read = read_json(text, max_depth);
                document->root = std::move(read.root);
                document->warnings = std::move(read.warnings);
            }
            return document;
        },
        py::arg("data"), py::arg("max_depth"),
        "Parse UTF-8 JSON bytes into a Document; ReadError(rule, pointer, message, expected, found) if malformed.");
}

}  // namespace rtv
