// The Python face of the JSON reader (json_reader.h): `read_json(bytes) -> Document`, a document held in C++
// that the engine loads from directly (no Python object tree) and that gives a Python tree when asked.
#pragma once

#include <pybind11/pybind11.h>

#include "json_value.h"

namespace rtv {

// Registers ReadError, Document and read_json on the module.
void bind_reader(pybind11::module_& m);

// The C++ document behind a Document object, or nullptr when `obj` is something else.
const Json* parsed_document(pybind11::handle obj);

}  // namespace rtv
