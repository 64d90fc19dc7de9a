// Binding of the reader. A Document keeps the parsed JSON in C++: the engine builds a model from it (once per
// copy, without reading text again), and `to_python()` builds the Python tree only for the code that needs one.
#include "reader_bindings.h"

#include <limits>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "json_reader.h"

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
py::object to_python(const Json& v, std::size_t levels) {
    if ((v.is_array() || v.is_object()) && levels == 0) return py::none();
    switch (v.kind()) {
        case Json::Kind::Null: return py::none();
        case Json::Kind::Bool: return py::bool_(v.as_bool());
        case Json::Kind::Number: {
            if (v.is_integer()) return py::reinterpret_steal<py::object>(PyLong_FromLongLong(v.as_integer()));
            return py::reinterpret_steal<py::object>(PyFloat_FromDouble(v.as_number()));
        }
        case Json::Kind::String: {
            const std::string& s = v.as_string();
            return py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr));
        }
        case Json::Kind::Array: {
            const auto& items = v.as_array();
            PyObject* list = PyList_New(static_cast<Py_ssize_t>(items.size()));
            if (list == nullptr) throw py::error_already_set();
            auto owned = py::reinterpret_steal<py::object>(list);
            for (std::size_t i = 0; i < items.size(); ++i)
                PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), to_python(items[i], levels - 1).release().ptr());
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

}  // namespace

const Json* parsed_document(py::handle obj) {
    if (!py::isinstance<Document>(obj)) return nullptr;
    return &obj.cast<const Document&>().root;
}

void bind_reader(py::module_& m) {
    // ReadError(rule, pointer, message, expected, found): verifier.format.document re-raises it as a
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
            "than `levels` as None.");

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
