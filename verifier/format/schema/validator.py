"""The JSON Schemas shipped with the package, loaded by ``$id``.

Schemas live in ``verifier/schemas/`` of an installed package (native/CMakeLists.txt installs them there)
and, when running from a source checkout or an editable install, in the repository's top-level ``schemas/``
folder; the source tree wins when both hold the same ``$id``, so an edited schema is seen without a
reinstall. Every schema is draft 2020-12 and names itself with an ``$id`` of the form
``https://rtneural-verifier.dev/schemas/<name>.schema.json``; cross-references between them resolve through
one :class:`referencing.Registry`.

Reads are cached (the files do not change while a process runs); nothing else is global.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier.format.schema.predicate import Predicate, compile_predicate
from verifier.quoting import MAX_FIELD, MAX_QUOTED, quoted, shown

if TYPE_CHECKING:  # jsonschema is imported only when an instance is found not to conform (see predicate())
    from jsonschema import Draft202012Validator, ValidationError
    from referencing import Registry

BASE_URI = "https://rtneural-verifier.dev/schemas/"
_PACKAGE_DIR = Path(__file__).resolve().parents[2]  # verifier/, where the wheel puts schemas/


def schema_dirs() -> list[Path]:
    """Folders searched for ``*.schema.json``, lowest precedence first."""
    dirs = [_PACKAGE_DIR / "schemas"]
    source_root = _PACKAGE_DIR.parent
    # Only a checkout has pyproject.toml next to the package; this keeps an unrelated site-packages/schemas
    # folder from being picked up by an installed copy.
    if (source_root / "pyproject.toml").is_file():
        dirs.append(source_root / "schemas")
    return [d for d in dirs if d.is_dir()]


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for folder in schema_dirs():
        for path in sorted(folder.glob("*.schema.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            found[document["$id"]] = document
    return found


def schema_ids() -> list[str]:
    """The ``$id`` of every schema found, sorted."""
    return sorted(_schemas())


def resolve_id(id_or_name: str) -> str:
    """The full ``$id`` for ``"rtneural-model"``, ``"rtneural-model.schema.json"`` or the ``$id`` itself."""
    if "://" in id_or_name:
        return id_or_name
    name = id_or_name if id_or_name.endswith(".schema.json") else f"{id_or_name}.schema.json"
    return BASE_URI + name


def schema(id_or_name: str) -> dict[str, Any]:
    """The parsed schema (a shared cached object: do not mutate it)."""
    schemas = _schemas()
    key = resolve_id(id_or_name)
    if key not in schemas:
        known = ", ".join(schema_ids()) or "none"
        raise KeyError(f"no schema with $id {key!r} (found: {known}; searched {schema_dirs()})")
    return schemas[key]


@cache
def registry() -> Registry:
    """Every shipped schema, registered under its ``$id``."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resources = [
        (uri, Resource.from_contents(doc, default_specification=DRAFT202012))
        for uri, doc in _schemas().items()
    ]
    return Registry().with_resources(resources).crawl()


@cache
def validator(id_or_name: str) -> Draft202012Validator:
    """A draft 2020-12 validator for the named schema, resolving ``$ref`` through :func:`registry`."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(id_or_name), registry=registry())


@cache
def predicate(id_or_name: str) -> Predicate | None:
    """Whether an instance conforms to the named schema, answered without jsonschema (the same answer:
    :mod:`verifier.format.schema.predicate`); None when the schema uses a keyword that module does not
    compile. Ask :func:`validator` for the errors of an instance it rejects."""
    return compile_predicate(schema(id_or_name), _schemas())


def compile_variant(document: dict[str, Any]) -> Predicate | None:
    """:func:`predicate` for a schema derived from the shipped ones (its ``$ref`` resolve among them)."""
    return compile_predicate(document, _schemas())


def error_message(error: ValidationError) -> str:
    """jsonschema's message for ``error``, with the value it quotes cut to
    :data:`~verifier.quoting.MAX_QUOTED` and the whole within :data:`~verifier.quoting.MAX_FIELD` (the value
    may be a megabyte string of a hostile file)."""
    whole = repr(error.instance)
    if len(whole) <= MAX_QUOTED:
        return shown(error.message, MAX_FIELD)
    return shown(error.message.replace(whole, quoted(error.instance)), MAX_FIELD)


def structural_variant(document: dict[str, Any], shallow_defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A copy of ``document`` with some ``$defs`` replaced, under a derived ``$id``.

    verifier.format.validate uses it to check the nesting of weight arrays without the validator visiting
    every number (a million numbers take seconds in jsonschema; a numeric pass does them in milliseconds).
    """
    defs = {**document.get("$defs", {}), **shallow_defs}
    derived_id = document["$id"].removesuffix(".schema.json") + ".structure.json"
    return {**document, "$id": derived_id, "$defs": defs}
