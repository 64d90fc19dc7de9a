"""``verify convert FILE --to keras-json -o OUT``: a GuitarML state_dict file as the keras-json RTNeural's own
parser loads to the same layers (:func:`verifier.format.loaders.state_dict.to_keras`); ``--to state-dict``:
a keras-json model as a GuitarML state_dict file (:func:`~verifier.format.loaders.state_dict.from_keras`),
when it is one LSTM or GRU then one dense layer.

What the target cannot carry is said on stderr, never dropped silently: the ``skip`` residual lives in the
plugin, so a host loading a converted keras-json must add input 0 to the output itself, and a state_dict
written from keras-json has ``skip`` 0. A file with an error finding is not converted (the findings are
printed as ``path:line:col: RULE message``), nor a model the target format cannot hold (each reason at its
place); OUT is never one of the inputs. Exit status: 0 written, 1 not converted, 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any, TextIO

TARGETS = ("keras-json", "state-dict")


def build_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = parser_class(
        prog="verify convert",
        description="Convert a GuitarML (Proteus/NeuralPi) state_dict model file to the keras-json "
        "RTNeural's parser loads to the same outputs (--to keras-json), or a keras-json model of one LSTM or "
        "GRU and one dense layer to a GuitarML state_dict file (--to state-dict); what the target cannot "
        "carry (the skip) is said on stderr.",
        epilog="Exit status: 0 written, 1 not converted (an error finding, or a model the target cannot "
        "hold), 2 usage error.",
    )
    parser.add_argument("file", metavar="FILE", help="a GuitarML state_dict file, or a keras-json model file")
    parser.add_argument("--to", choices=TARGETS, required=True, help="the format to write")
    parser.add_argument("--output", "-o", metavar="OUT", required=True, help="the file to write")
    return parser


def run(argv: Sequence[str], stderr: TextIO, parser_class: type[argparse.ArgumentParser]) -> int:
    from verifier.cli.arguments import EXIT_OK, UsageError
    from verifier.errors import ModelFormatError
    from verifier.format.findings import Limits
    from verifier.format.loaders.state_dict import STATE_DICT_KEYS, check_state_dict, is_state_dict, to_keras
    from verifier.format.reader.document import read
    from verifier.format.reader.guarded import InputError, check_target, write_file
    from verifier.format.validate import validate

    args = build_parser(parser_class).parse_args(argv)
    try:
        check_target(args.output, [args.file], what="-o")
    except InputError as exc:
        raise UsageError(str(exc)) from None
    try:
        document = read(args.file)
    except (ModelFormatError, OSError):
        return _report(args.file, validate(args.file), stderr)
    if args.to == "state-dict":
        if is_state_dict(document.outline()):
            raise UsageError(f"{args.file}: already a GuitarML state_dict file; --to keras-json converts it")
        return _to_state_dict(args.file, args.output, document, stderr)
    if not is_state_dict(document.outline()):
        raise UsageError(
            f"{args.file}: not a GuitarML state_dict file (no model_data/state_dict at the top); "
            "--to keras-json converts only those"
        )
    doc = document.skeleton((), STATE_DICT_KEYS)
    findings = check_state_dict(doc, Limits())
    if any(f.severity == "error" for f in findings):
        return _report(args.file, findings, stderr)
    keras, skip = to_keras(doc)
    try:
        write_file(args.output, json.dumps(keras) + "\n", inputs=[args.file], what="-o")
    except InputError as exc:
        raise UsageError(str(exc)) from None
    stderr.write(f"verify convert: {args.file} -> {args.output} ({args.to})\n")
    if skip:
        stderr.write(
            f"verify convert: {args.file}: /model_data/skip is 1: the plugin adds input 0 to every output, "
            "which keras-json cannot carry; a host running the converted file must add it (y = model(x) + "
            "x[0]), or the outputs differ by the input\n"
        )
    _report(args.file, findings, stderr)  # warnings only, by now
    return EXIT_OK


def _to_state_dict(path: str, output: str, document: Any, stderr: TextIO) -> int:
    from verifier.cli.arguments import EXIT_FAILED, EXIT_OK, UsageError
    from verifier.format.loaders.state_dict import from_keras
    from verifier.format.reader.guarded import InputError, write_file
    from verifier.format.reader.positions import locate_in_file
    from verifier.format.validate import KEY_ORDER, validate

    findings = validate(path)
    if any(f.severity == "error" for f in findings):
        return _report(path, findings, stderr)
    converted, reasons = from_keras(document.skeleton(KEY_ORDER))
    if converted is None:
        places = locate_in_file(path, [pointer for pointer, _ in reasons])
        for pointer, reason in reasons:
            place = places[pointer]
            stderr.write(f"{path}:{place.line}:{place.column}: {pointer}: not expressible: {reason}\n")
        return EXIT_FAILED
    try:
        write_file(output, json.dumps(converted) + "\n", inputs=[path], what="-o")
    except InputError as exc:
        raise UsageError(str(exc)) from None
    stderr.write(
        f"verify convert: {path} -> {output} (state-dict): /model_data/skip is 0, as keras-json has no skip; "
        "set it to 1 when the plugin should add input 0 to the output"
    )
    if converted["model_data"]["unit_type"] == "LSTM":
        stderr.write("; the LSTM's one bias is rec.bias_ih_l0, with rec.bias_hh_l0 zero (the same sum)")
    stderr.write("\n")
    _report(path, findings, stderr)  # warnings only, by now
    return EXIT_OK


def _report(path: str, findings: Sequence[object], stderr: TextIO) -> int:
    """Each finding as ``path:line:col: RULE severity: message``; 1 when one is an error."""
    from verifier.cli.arguments import EXIT_FAILED, EXIT_OK
    from verifier.format.findings import Finding
    from verifier.format.reader.positions import locate_in_file

    shown = [f for f in findings if isinstance(f, Finding)]
    places = locate_in_file(path, [f.pointer for f in shown]) if shown else {}
    for f in shown:
        place = places[f.pointer]
        stderr.write(f"{path}:{place.line}:{place.column}: {f}\n")
    return EXIT_FAILED if any(f.severity == "error" for f in shown) else EXIT_OK
