"""Does an instance conform to a schema? A yes/no answer, compiled once per schema into Python closures.

jsonschema interprets the schema for every value it checks: over a millisecond for a small model document,
more than exporting and loading the model together, and its import alone took 68 ms of a run
(``python -X importtime``). Nearly
every document a run sees conforms, and for those the answer is all that is needed. So the subset of
draft 2020-12 that our schemas use is compiled here into nested closures that answer in a tenth of the
time, and only an instance they reject goes to jsonschema, whose errors say what is wrong.

The answer must be jsonschema's, for every instance: each keyword below mirrors jsonschema's own
(``Draft202012Validator`` without a format checker), down to its quirks -- a float with an integral value is
an ``integer``, ``True`` is not ``1`` for ``enum`` and ``const``, a NaN is not below any ``minimum``. A
schema holding any keyword outside the subset (or a reference this module does not resolve) is not
compiled: :func:`compile_predicate` returns None and the caller asks jsonschema.
tests/test_schema_predicate.py compares the two answers on every shipped schema, over generated, mutated
and hand-picked instances.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urljoin

Predicate = Callable[[Any], bool]

# Keywords that never make an instance invalid (jsonschema evaluates none of them for validity).
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "then",  # read by "if"
        "else",  # read by "if"
    }
)


class _Unsupported(Exception):
    """The schema uses something outside the compiled subset."""


def compile_predicate(root: Any, resources: Mapping[str, Any]) -> Predicate | None:
    """A function telling whether an instance conforms to ``root``, or None when ``root`` (or a schema it
    refers to) uses a keyword this module does not compile. ``resources`` maps the ``$id`` of every other
    schema a ``$ref`` may name to that schema."""
    try:
        return _Compiler(resources).schema(root, root)
    except _Unsupported:
        return None


# --- types, as jsonschema's draft 2020-12 type checker sees them --------------------------------------------


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


_TYPES: dict[str, Predicate] = {
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "integer": _is_integer,
    "null": lambda x: x is None,
    "number": _is_number,
    "object": lambda x: isinstance(x, dict),
    "string": lambda x: isinstance(x, str),
}


def _equal(one: Any, two: Any) -> bool:
    """JSON equality as jsonschema's ``enum`` and ``const`` judge it: ``True`` is not ``1``, in any depth."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(map(_equal, one, two))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return False  # `one is two` above already matched True with True and False with False
    return bool(one == two)


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _all(checks: list[Predicate]) -> Predicate:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) and second(x)
    frozen = tuple(checks)
    return lambda x: all(check(x) for check in frozen)


# --- the compiler -----------------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, resources: Mapping[str, Any]) -> None:
        self._resources = resources
        # (resource id, JSON pointer) -> its predicate, set once compiled; a reference met again while its
        # target is still being compiled (a recursive schema) reads the cell when it runs.
        self._refs: dict[tuple[str, str], list[Predicate | None]] = {}

    def schema(self, node: Any, resource: Any) -> Predicate:
        if node is True:
            return _always
        if node is False:
            return _never
        if not isinstance(node, dict):
            raise _Unsupported("a schema is an object or a boolean")
        if "$id" in node and node is not resource:
            raise _Unsupported("embedded resources")
        checks: list[Predicate] = []
        for keyword, value in node.items():
            if keyword in _ANNOTATIONS:
                continue
            make = _KEYWORDS.get(keyword)
            if make is None:
                raise _Unsupported(keyword)
            checks.append(make(self, value, node, resource))
        return _all(checks)

    def reference(self, ref: Any, resource: Any) -> Predicate:
        if not isinstance(ref, str):
            raise _Unsupported("$ref")
        base = resource.get("$id", "") if isinstance(resource, dict) else ""
        uri, _, fragment = urljoin(base, ref).partition("#")
        if uri == base.partition("#")[0]:
            target = resource
        elif uri in self._resources:
            target = self._resources[uri]
        else:
            raise _Unsupported(f"$ref to {uri!r}")
        if fragment and not fragment.startswith("/"):
            raise _Unsupported("anchors")
        key = (uri, fragment)
        cell = self._refs.get(key)
        if cell is None:
            cell = self._refs[key] = [None]
            cell[0] = self.schema(_resolve(target, fragment), target)
        compiled = cell[0]
        if compiled is not None:
            return compiled
        late = cell
        return lambda x: late[0](x)  # type: ignore[misc]


def _resolve(document: Any, pointer: str) -> Any:
    node = document
    for part in pointer.split("/")[1:]:
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _Unsupported(f"unresolvable $ref #{pointer}")
    return node


def _when(kind: str, check: Predicate) -> Predicate:
    """``check`` for instances of JSON type ``kind``; any other instance passes (as in jsonschema)."""
    is_kind = _TYPES[kind]
    return lambda x: not is_kind(x) or check(x)


def _type(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n in _TYPES for n in names):
        raise _Unsupported("type")
    tests = tuple(_TYPES[n] for n in names)
    if len(tests) == 1:
        return tests[0]
    return lambda x: any(test(x) for test in tests)


def _enum(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    if not isinstance(value, list):
        raise _Unsupported("enum")
    choices = tuple(value)
    if all(isinstance(v, str) for v in choices):
        strings = frozenset(choices)
        return lambda x: isinstance(x, str) and x in strings
    return lambda x: any(_equal(choice, x) for choice in choices)


def _const(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    return lambda x: _equal(x, value)


def _properties(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    if not isinstance(value, dict):
        raise _Unsupported("properties")
    pairs = tuple((key, c.schema(sub, resource)) for key, sub in value.items())

    return _when("object", lambda x: all(conforms(x[key]) for key, conforms in pairs if key in x))


def _additional_properties(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    if "patternProperties" in node:
        raise _Unsupported("patternProperties")
    known = frozenset(node.get("properties", {}))
    if value is True:
        return _always
    if value is False:
        return _when("object", lambda x: all(key in known for key in x))
    conforms = c.schema(value, resource)
    return _when("object", lambda x: all(conforms(v) for k, v in x.items() if k not in known))


def _required(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    keys = tuple(value)
    return _when("object", lambda x: all(key in x for key in keys))


def _items(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    prefix = len(node.get("prefixItems", []))
    if value is False:
        return _when("array", lambda x: len(x) <= prefix)
    conforms = c.schema(value, resource)
    if prefix == 0:
        return _when("array", lambda x: all(map(conforms, x)))
    return _when("array", lambda x: all(map(conforms, x[prefix:])))


def _prefix_items(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    if not isinstance(value, list):
        raise _Unsupported("prefixItems")
    each = tuple(c.schema(sub, resource) for sub in value)
    # zip stops at the shorter: prefixItems says nothing of a missing item (minItems does)
    return _when("array", lambda x: all(conforms(item) for conforms, item in zip(each, x, strict=False)))


def _count(kind: str, fails: Callable[[int, int], bool]) -> Callable[..., Predicate]:
    def make(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
        return _when(kind, lambda x: not fails(len(x), value))

    return make


def _bound(fails: Callable[[Any, Any], bool]) -> Callable[..., Predicate]:
    # Written as "not (the failure jsonschema tests)": a NaN fails no comparison, so it passes every bound.
    def make(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
        return _when("number", lambda x: not fails(x, value))

    return make


def _pattern(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    try:
        compiled = re.compile(value)
    except (re.error, TypeError):
        raise _Unsupported("pattern") from None  # jsonschema then says what it makes of it
    return _when("string", lambda x: compiled.search(x) is not None)


def _all_of(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    return _all([c.schema(sub, resource) for sub in value])


def _any_of(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    each = tuple(c.schema(sub, resource) for sub in value)
    return lambda x: any(conforms(x) for conforms in each)


def _one_of(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    each = tuple(c.schema(sub, resource) for sub in value)
    return lambda x: sum(1 for conforms in each if conforms(x)) == 1


def _not(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    conforms = c.schema(value, resource)
    return lambda x: not conforms(x)


def _if(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    condition = c.schema(value, resource)
    then = c.schema(node["then"], resource) if "then" in node else _always
    otherwise = c.schema(node["else"], resource) if "else" in node else _always
    return lambda x: then(x) if condition(x) else otherwise(x)


def _ref(c: _Compiler, value: Any, node: dict, resource: Any) -> Predicate:
    return c.reference(value, resource)


_KEYWORDS: dict[str, Callable[[_Compiler, Any, dict, Any], Predicate]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "properties": _properties,
    "additionalProperties": _additional_properties,
    "required": _required,
    "items": _items,
    "prefixItems": _prefix_items,
    "minItems": _count("array", lambda n, limit: n < limit),
    "maxItems": _count("array", lambda n, limit: n > limit),
    "minLength": _count("string", lambda n, limit: n < limit),
    "maxLength": _count("string", lambda n, limit: n > limit),
    "minProperties": _count("object", lambda n, limit: n < limit),
    "maxProperties": _count("object", lambda n, limit: n > limit),
    "minimum": _bound(lambda x, limit: x < limit),
    "maximum": _bound(lambda x, limit: x > limit),
    "exclusiveMinimum": _bound(lambda x, limit: x <= limit),
    "exclusiveMaximum": _bound(lambda x, limit: x >= limit),
    "pattern": _pattern,
    "allOf": _all_of,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "not": _not,
    "if": _if,
    "$ref": _ref,
}
