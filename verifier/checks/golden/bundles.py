"""Golden bundles: a model's inputs and expected outputs on disk, for a C++ test to check the plugin's build.

``write_bundle(model_file, directory)`` writes ``directory/`` (docs/golden.md is the format's definition):

* ``index.txt``: ``key=value`` lines: format and version, the model file's SHA-256, sizes, the reference
  kind, the cases and patterns, the tolerance per dtype;
* ``inputs/<case>.csv``: ``[steps x in_size]``, one line per step, comma-separated, no header;
* ``expected/<case>.<pattern>.csv``: ``[steps x out_size]`` for the patterns ``frame`` (every step from zero
  state) and ``stream`` (state carried from step to step, reset once at the start of the case);
* ``README.md``: what the bundle is and how to check it.

The expected outputs come from the PyTorch module when one is given (reference kind ``torch``); for a
GuitarML state_dict file without one, from PyTorch's ``nn.LSTM``/``nn.GRU`` + ``nn.Linear`` loaded from its
state_dict, skip included (``state-dict``), so that the plugin's own hand loader is what the C++ test checks;
else from our engine in float64 (``engine-float64``): the bundle says which, because an engine-made bundle
shows that the plugin's RTNeural computes what our engine computes, not what PyTorch does. Inputs are exact
float32 values, so a float32 and a float64 build see the same numbers. ``read_bundle`` is the Python reader
of the same format (tests, tools); the C++ reader is ``verifier/cpp/include/rtneural_verifier/golden.hpp``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from verifier.errors import ConfigurationError, VerifierError
from verifier.quoting import exception_text

if TYPE_CHECKING:
    from verifier.checks.run.reference import References

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "PATTERNS",
    "Bundle",
    "GoldenError",
    "Written",
    "embed_golden",
    "golden_inputs",
    "read_bundle",
    "reference_outputs",
    "save_golden",
    "write_bundle",
]

FORMAT = "rtneural-verifier-golden"
# golden.hpp's kGoldenFormatVersion must equal this (tests/test_golden.py pins it).
FORMAT_VERSION = 1
PATTERNS = ("frame", "stream")
DTYPES = ("float32", "float64")
# The short cases need enough steps for a recurrent state to settle after an impulse or a constant step.
SHORT_CASE_STEPS = 32
STATE_DICT_SOURCE = "PyTorch nn.LSTM/nn.GRU + nn.Linear loaded from the file's state_dict, skip included"
TORCH_HELPERS_SOURCE = (
    "PyTorch modules loaded from the file's state_dict as the manifest's torch_helpers lists"
)


# The expected outputs of a list of cases ([T, in] each): (frame, stream) per case, [T, out] float64.
Expected = Callable[[list[np.ndarray]], list[tuple[np.ndarray, np.ndarray]]]


class GoldenError(VerifierError):
    """A bundle that cannot be written (the target is not ours to replace) or read (malformed)."""


@dataclass(frozen=True)
class Bundle:
    """A golden bundle as read back: the index, and per case its inputs and expected outputs."""

    directory: Path
    index: Mapping[str, str]
    inputs: Mapping[str, np.ndarray]  # case -> [steps, in_size]
    expected: Mapping[tuple[str, str], np.ndarray]  # (case, pattern) -> [steps, out_size]

    @property
    def reference(self) -> str:
        return self.index["reference"]

    def tolerance(self, dtype: str) -> tuple[float, float]:
        return float(self.index[f"tolerance.{dtype}.atol"]), float(self.index[f"tolerance.{dtype}.rtol"])


def golden_inputs(in_size: int, steps: int, seed: int) -> dict[str, np.ndarray]:
    """The cases of a bundle, ``name -> [steps, in_size]`` float64 arrays of exact float32 values.

    ``random`` is uniform in [-1, 1] (the range audio features are normalised to); ``zeros``, ``plus_one``,
    ``minus_one`` are constant signals (a bias or saturation error shows on them alone); ``impulse`` is one
    step of ones then zeros (a recurrent state's decay).
    """
    rng = np.random.default_rng(seed)
    random = rng.uniform(-1.0, 1.0, size=(steps, in_size)).astype(np.float32).astype(np.float64)
    short = min(steps, SHORT_CASE_STEPS)
    impulse = np.zeros((short, in_size))
    impulse[0] = 1.0
    return {
        "random": random,
        "zeros": np.zeros((short, in_size)),
        "plus_one": np.ones((short, in_size)),
        "minus_one": -np.ones((short, in_size)),
        "impulse": impulse,
    }


def reference_outputs(
    model_file: str | os.PathLike[str], xs: np.ndarray, torch_module: Any | None
) -> tuple[np.ndarray, np.ndarray]:
    """(frame, stream) expected outputs for ``xs``: the torch module, else our engine, in float64."""
    if torch_module is not None:
        import torch

        from verifier.pytorch.run import frames, stream

        return frames(torch_module, xs, torch.float64), stream(torch_module, xs, torch.float64)
    from verifier.engine.model import load

    model = load(Path(model_file), "float64")  # a Path: a file name is never read as JSON text
    frame = model.run_frames(xs)
    model.reset()
    return frame, model.run(xs)


def finite_expectations(frame: np.ndarray, stream: np.ndarray, what: str) -> None:
    """GoldenError when a reference output holds a NaN or an infinity: no engine can be held to one."""
    for pattern, values in (("frame", frame), ("stream", stream)):
        bad = ~np.isfinite(np.asarray(values, np.float64))
        if bad.any():
            step = int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])
            raise GoldenError(f"{what}: the reference {pattern} output is not finite at step {step}")


def _csv(path: Path, values: np.ndarray) -> None:
    # repr() is the shortest text that reads back as the same double (std::istream and numpy alike).
    text = "".join(
        ",".join(repr(float(v)) for v in row) + "\n" for row in np.asarray(values, dtype=np.float64)
    )
    path.write_text(text, encoding="ascii")


def _sha256(path: str | os.PathLike[str]) -> str:
    from verifier.format.findings import Limits
    from verifier.format.reader.guarded import read_bytes

    # Through the guarded reader: the file was loaded already, but may have been replaced by a FIFO since.
    return hashlib.sha256(read_bytes(path, Limits().max_file_bytes)).hexdigest()


def _readme(index: Mapping[str, str]) -> str:
    source = {
        "torch": f"the PyTorch module `{index['reference_source']}`, in float64",
        "engine-float64": "rtneural-verifier's engine in float64 (no PyTorch module was given: the bundle "
        "checks that a build computes what that engine computes, not what PyTorch computes)",
        "torch-helpers": f"{TORCH_HELPERS_SOURCE}, in float64 (the plugin's torch_helpers calls are what a "
        "C++ test holds to it)",
        "state-dict": f"{STATE_DICT_SOURCE}, in float64 (a GuitarML state_dict file: the plugin's hand "
        "loader, adding input 0 to the output when skip is 1, is what a C++ test holds to it)",
    }[index["reference"]]
    cases = index["cases"].replace(",", ", ")
    return f"""# Golden bundle: {index["model_file"]}

Written by `verify --save-golden` ({index["created_by"]}) for the model file with SHA-256
`{index["model_sha256"]}` ({index["in_size"]} inputs, {index["out_size"]} outputs).

* Expected outputs: from {source}.
* Cases: {cases}; `inputs/<case>.csv` holds one step per line.
* Patterns: `frame` (reset() before every forward(), PyTorch's one-step call) and `stream` (reset() once,
  state carried, RTNeural's usage): `expected/<case>.<pattern>.csv`.
* Tolerance: |actual - expected| <= atol + rtol |expected|; float32 atol {index["tolerance.float32.atol"]},
  rtol {index["tolerance.float32.rtol"]}; float64 atol {index["tolerance.float64.atol"]}, rtol
  {index["tolerance.float64.rtol"]}.

Check a C++ build against it (header from `python -m verifier.cpp --includedir`):

```cpp
#include <rtneural_verifier/golden.hpp>
auto result = rtv::check_golden(model, "{index["model_stem"]}");  // this directory
```

The format is documented in rtneural-verifier's docs/golden.md.
"""


def _replaceable(directory: Path) -> bool:
    """An existing target may be replaced only when it is an earlier bundle (or an empty directory)."""
    if not directory.exists():
        return True
    if not directory.is_dir():
        return False
    from verifier.format.reader.guarded import MAX_SETTINGS_BYTES, InputError, read_text

    index = directory / "index.txt"
    if index.exists():
        try:
            return read_text(index, MAX_SETTINGS_BYTES, "ascii").startswith(f"format={FORMAT}\n")
        except InputError:
            return False
    return not any(directory.iterdir())


def write_bundle(
    model_file: str | os.PathLike[str],
    directory: str | os.PathLike[str],
    *,
    torch_module: Any | None = None,
    expected: Expected | None = None,
    reference_source: str | None = None,
    tolerance: Callable[[str], tuple[float, float]],
    steps: int = 256,
    seed: int = 0,
    created_by: str = "rtneural-verifier",
    torch_helpers: Mapping[str, Any] | None = None,
) -> Path:
    """Write the bundle of ``model_file`` into ``directory`` (created; an earlier bundle there is replaced).

    ``tolerance(dtype)`` gives (atol, rtol) for "float32" and "float64". ``expected``, when given, computes
    the reference outputs of the cases (a torch module run where it cannot end this process) instead of
    ``torch_module`` in this process; without either, a GuitarML state_dict file's come from its PyTorch
    rebuild, any other file's from our engine. The model must load in our engine (``ModelFormatError``
    otherwise). ``torch_helpers`` is a manifest entry's declaration for a state_dict file loaded with
    RTNeural's torch_helpers: the model is the layers it lists, and without a torch module the expected
    outputs come from PyTorch's own modules holding the file's arrays (``torch-helpers``). Raises
    :class:`GoldenError` when ``directory`` exists and is not a
    bundle, so nothing of the user's is overwritten. Written into a temporary sibling and renamed, so a
    failure leaves no half bundle.
    """
    from verifier.engine.model import PluginModel, load

    target = Path(directory)
    if not _replaceable(target):
        raise GoldenError(f"{target} exists and is not a golden bundle; not overwriting it")
    source: Any = Path(model_file)  # a Path: a file name is never read as JSON text
    if torch_helpers is not None:
        from verifier.format.loaders.torch_helpers import declared
        from verifier.format.reader.document import read

        source = declared(read(source), torch_helpers)
    model = load(source, "float64")  # refuses what the engine refuses, before anything is written
    # The bundle is for the plugin's float32 engine too (its tolerances name both): a number float32 cannot
    # hold is refused here as load refuses it (RTN-E208), not written into expectations no plugin meets.
    load(source, "float32")
    cases = golden_inputs(model.in_size, steps, seed)
    from_torch = torch_module is not None or expected is not None
    kind = "torch" if from_torch else "engine-float64"
    # Not the engine: it runs the same conversion a hand loader does, so a shared mistake would pass.
    if not from_torch and isinstance(model, PluginModel):
        expected, kind, reference_source = _rebuilt_expected(source), "state-dict", STATE_DICT_SOURCE
    elif not from_torch and torch_helpers is not None:
        expected, kind, reference_source = _rebuilt_expected(source), "torch-helpers", TORCH_HELPERS_SOURCE
    if expected is None:
        outputs = {name: reference_outputs(model_file, xs, torch_module) for name, xs in cases.items()}
    else:  # before anything is written: a reference that fails leaves no staging folder behind
        outputs = dict(zip(cases, expected(list(cases.values())), strict=True))
    index: dict[str, str] = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "created_by": created_by,
        "model_file": Path(model_file).name,
        "model_stem": target.name,
        "model_sha256": _sha256(model_file),
        "in_size": str(model.in_size),
        "out_size": str(model.out_size),
        "reference": kind,
        "reference_source": reference_source or ("torch module" if from_torch else "engine"),
        "seed": str(seed),
        "patterns": ",".join(PATTERNS),
        "cases": ",".join(cases),
    }
    index.update({f"case.{name}.steps": str(len(xs)) for name, xs in cases.items()})
    for dtype in DTYPES:
        atol, rtol = tolerance(dtype)
        index[f"tolerance.{dtype}.atol"] = repr(float(atol))
        index[f"tolerance.{dtype}.rtol"] = repr(float(rtol))

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (staging / "inputs").mkdir()
        (staging / "expected").mkdir()
        for name, xs in cases.items():
            _csv(staging / "inputs" / f"{name}.csv", xs)
            frame, stream = outputs[name]
            finite_expectations(frame, stream, f"case {name}")
            _csv(staging / "expected" / f"{name}.frame.csv", frame)
            _csv(staging / "expected" / f"{name}.stream.csv", stream)
        (staging / "index.txt").write_text("".join(f"{k}={v}\n" for k, v in index.items()), encoding="ascii")
        (staging / "README.md").write_text(_readme(index), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _rebuilt_expected(source: Any) -> Expected:
    """The expected outputs of a state_dict file (GuitarML's, or declared for torch_helpers): its PyTorch
    rebuild, in this process (stock torch layers from the file's own numbers: no user code runs)."""
    import torch

    from verifier.pytorch.rebuild import reference
    from verifier.pytorch.run import frames, stream

    module = reference(source, torch.float64)
    return lambda cases: [(frames(module, xs), stream(module, xs)) for xs in cases]


def _read_csv(path: Path, rows: int, columns: int) -> np.ndarray:
    from verifier.format.reader.guarded import InputError, read_csv

    try:
        values = read_csv(path, max_rows=rows, max_columns=columns, comments=True)
    except InputError as exc:
        raise GoldenError(str(exc)) from None
    if values.shape != (rows, columns):
        raise GoldenError(f"{path}: expected {rows} x {columns} finite values, found shape {values.shape}")
    return values


def _index(root: Path) -> dict[str, str]:
    """index.txt's ``key=value`` lines, the keys read_bundle uses checked (a count within its limit, a
    tolerance finite and >= 0)."""
    from verifier.checks.limits import MAX_STEPS, is_tolerance
    from verifier.format.findings import Limits
    from verifier.format.reader.guarded import MAX_SETTINGS_BYTES, InputError, read_text

    path = root / "index.txt"
    try:
        lines = read_text(path, MAX_SETTINGS_BYTES, "ascii").splitlines()
    except InputError as exc:
        raise GoldenError(f"{root}: not a golden bundle: {exc}") from None
    index: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if line.strip() and not line.startswith("#"):
            key, equals, value = line.partition("=")
            if not equals:
                raise GoldenError(f"{path}: line {number}: not a key=value line")
            index[key] = value
    if index.get("format") != FORMAT or index.get("format_version") != str(FORMAT_VERSION):
        raise GoldenError(f"{path}: not a version {FORMAT_VERSION} {FORMAT} index")
    counts = {"in_size": Limits().max_layer_width, "out_size": Limits().max_layer_width}
    counts.update({key: MAX_STEPS for key in index if key.startswith("case.") and key.endswith(".steps")})
    for key, most in counts.items():
        value = index.get(key, "")
        if not (value.isascii() and value.isdigit() and 1 <= int(value) <= most):
            raise GoldenError(
                f"{path}: {key}: expected a whole number from 1 to {most}, found {value[:40]!r}"
            )
    for key in ("cases", "patterns"):
        if not index.get(key):
            raise GoldenError(f"{path}: {key}: missing")
    for key in (f"tolerance.{d}.{t}" for d in DTYPES for t in ("atol", "rtol")):
        try:
            good = is_tolerance(float(index.get(key, "")))
        except ValueError:
            good = False
        if not good:
            raise GoldenError(
                f"{path}: {key}: expected a finite number >= 0, found {index.get(key, '')[:40]!r}"
            )
    return index


def read_bundle(directory: str | os.PathLike[str], cases: Sequence[str] | None = None) -> Bundle:
    """Read a bundle back; :class:`GoldenError` names the file of any problem."""
    root = Path(directory)
    index = _index(root)
    in_size, out_size = int(index["in_size"]), int(index["out_size"])
    names = index["cases"].split(",") if cases is None else list(cases)
    inputs: dict[str, np.ndarray] = {}
    expected: dict[tuple[str, str], np.ndarray] = {}
    for name in names:
        if not name.replace("_", "").isalnum() or not name.isascii():  # a case name is part of a file name
            raise GoldenError(f"{root / 'index.txt'}: cases: {name[:40]!r} is not a case name")
        if f"case.{name}.steps" not in index:
            raise GoldenError(f"{root / 'index.txt'}: case.{name}.steps: missing")
        steps = int(index[f"case.{name}.steps"])
        inputs[name] = _read_csv(root / "inputs" / f"{name}.csv", steps, in_size)
        for pattern in index["patterns"].split(","):
            if pattern not in PATTERNS:
                raise GoldenError(
                    f"{root / 'index.txt'}: patterns: {pattern[:40]!r} is not one of {PATTERNS}"
                )
            expected[name, pattern] = _read_csv(root / "expected" / f"{name}.{pattern}.csv", steps, out_size)
    return Bundle(root, index, inputs, expected)


# ----------------------------------------------------------------------------------- for `verify` files


@dataclass(frozen=True)
class Written:
    """What ``verify --save-golden`` / ``--embed-golden`` did with one model file."""

    path: str
    target: str | None  # the bundle directory or the file written; None when nothing was written
    summary: str  # one line: what was written and from which reference, or why nothing was

    @property
    def failed(self) -> bool:
        return self.target is None


class _NoReference(Exception):
    """The reference module gave no outputs for a file (its factory or module failed, or ended its process):
    that file's data is not written, the others are."""


def _expected(path: str, options: Any, manifest: Any, references: References) -> tuple[Expected | None, str]:
    """How ``path``'s expected outputs are computed (``--against``, else the manifest's factory, run in
    ``references``; None: by our engine) and how that reference is named."""
    from verifier.checks.run.reference import (
        ReferenceError,
        ReferenceFailure,
        reference_setting,
        reference_spec,
    )

    spec = reference_spec(path, options, manifest)
    if spec is None:
        return None, "engine"
    where = reference_setting(path, options, manifest)

    def expected(cases: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        answer = references.outputs(spec, where, cases)
        if isinstance(answer, ReferenceFailure):
            if answer.configuration:
                raise ReferenceError(where, answer.summary)
            raise _NoReference(answer.summary)
        return answer

    return expected, spec


def _with_references(
    write: Callable[..., list[Written]],
    paths: Sequence[str],
    directory: str | os.PathLike[str],
    options: Any,
    manifest: Any,
    references: References | None,
) -> list[Written]:
    """``write`` with its reference modules in ``references``, else in a child process of its own."""
    if references is not None:
        return write(paths, directory, options, manifest, references)
    from verifier.checks.run.reference import isolated_references

    with isolated_references(options, manifest) as own:
        return write(paths, directory, options, manifest, own)


def _not_written(path: str, exc: Exception) -> Written:
    """A file whose data could not be made: one line, never a traceback (a configuration error is raised)."""
    if isinstance(exc, ConfigurationError):
        raise exc
    reason = str(exc) if isinstance(exc, _NoReference) else exception_text(exc)
    return Written(path, None, f"not written: {reason}")


def _folder(directory: str | os.PathLike[str], option: str) -> Path:
    """The folder the golden data goes to: new, or an existing directory (a file is not replaced by one)."""
    folder = Path(directory)
    if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
        raise GoldenError(f"{option} {folder}: exists and is not a directory")
    return folder


def _targets(paths: Sequence[str], directory: Path, name: Callable[[Path], str]) -> dict[str, Path]:
    """One target per file under ``directory``; two files that would share one are a GoldenError."""
    targets: dict[str, Path] = {}
    for path in paths:
        target = directory / name(Path(path))
        clash = next((p for p, t in targets.items() if t == target), None)
        if clash is not None:
            raise GoldenError(
                f"{clash} and {path} would both be written to {target}; give them one at a time"
            )
        targets[path] = target
    return targets


def save_golden(
    paths: Sequence[str],
    directory: str | os.PathLike[str],
    options: Any,
    manifest: Any = None,
    references: References | None = None,
) -> list[Written]:
    """``verify --save-golden DIR``: one bundle per file at ``DIR/<file stem>/``.

    ``options`` is a ``verifier.checks.run.options.Options`` (``against``, ``steps``, ``seed``,
    ``atol``/``rtol``
    are used); tolerances follow ``verify``'s order (command line, manifest, tolerance policy). The torch
    modules run in ``references`` (default: a child process of this call). A file that does not load or
    whose reference fails (raises, ends its process, passes its time limit) is reported, not raised; the
    others are still written. A factory that cannot be imported raises its ReferenceError.
    """
    return _with_references(_save_golden, paths, directory, options, manifest, references)


def _save_golden(
    paths: Sequence[str],
    directory: str | os.PathLike[str],
    options: Any,
    manifest: Any,
    references: References,
) -> list[Written]:
    from verifier import __version__
    from verifier.checks.run.tolerances import resolve_tolerances

    targets = _targets(paths, _folder(directory, "--save-golden"), lambda p: p.stem)
    for target in targets.values():
        if any(Path(given).resolve().is_relative_to(target.resolve()) for given in paths):
            raise GoldenError(f"--save-golden: {target} would be replaced, and an input file is inside it")
    written: list[Written] = []
    for path, target in targets.items():
        entry = manifest.entry_for(path) if manifest is not None else None

        def tolerance(dtype: str, path: str = path, entry: Any = entry) -> tuple[float, float]:
            # The stream tolerance: a bundle's cases are streams of up to options.steps steps.
            return resolve_tolerances(options, manifest, entry, dtype, path).stream

        try:
            expected, source = _expected(path, options, manifest, references)
            bundle = write_bundle(
                path,
                target,
                expected=expected,
                reference_source=source,
                tolerance=tolerance,
                steps=options.steps,
                seed=options.seed,
                created_by=f"rtneural-verifier {__version__}",
                torch_helpers=entry.torch_helpers if entry is not None else None,
            )
        except Exception as exc:  # the reference or a bad file: one line, never a traceback
            written.append(_not_written(path, exc))
            continue
        kind = {
            "torch": "torch module " + source,
            "state-dict": STATE_DICT_SOURCE,
            "torch-helpers": TORCH_HELPERS_SOURCE,
            "engine-float64": "the engine in float64 (no torch module)",
        }[_index(bundle)["reference"]]
        written.append(Written(path, str(bundle), f"bundle {bundle} from {kind}"))
    return written


def embed_golden(
    paths: Sequence[str],
    directory: str | os.PathLike[str],
    options: Any,
    manifest: Any = None,
    references: References | None = None,
) -> list[Written]:
    """``verify --embed-golden DIR``: a copy of each file at ``DIR/<file name>`` carrying ``input_batch``
    (``options.steps`` random steps) and ``output_batch`` (streamed from zero state by the torch module, else
    by our engine in float64). A target that is the input file itself is refused: inputs are never modified.
    The torch modules run as in :func:`save_golden`.
    """
    return _with_references(_embed_golden, paths, directory, options, manifest, references)


def _embed_golden(
    paths: Sequence[str],
    directory: str | os.PathLike[str],
    options: Any,
    manifest: Any,
    references: References,
) -> list[Written]:
    from verifier.checks.run.embedded import write_embedded
    from verifier.engine.model import PluginModel, load

    targets = _targets(paths, _folder(directory, "--embed-golden"), lambda p: p.name)
    for path, target in targets.items():
        _check_embed_target(path, target, paths)
    written: list[Written] = []
    for path, target in targets.items():
        try:
            expected, source = _expected(path, options, manifest, references)
            kind = (
                "torch module " + source
                if expected is not None
                else "the engine in float64 (no torch module)"
            )
            model = load(Path(path), "float64")
            if expected is None and isinstance(model, PluginModel):  # as --save-golden: not the engine
                expected, kind = _rebuilt_expected(Path(path)), STATE_DICT_SOURCE
            xs = golden_inputs(model.in_size, options.steps, options.seed)["random"]
            load(Path(path), "float32")  # the embedded data is for the float32 engine too
            frame, ys = reference_outputs(path, xs, None) if expected is None else expected([xs])[0]
            finite_expectations(frame, ys, "the random case")
            write_embedded(path, target, xs, ys)
        except Exception as exc:
            written.append(_not_written(path, exc))
            continue
        written.append(Written(path, str(target), f"{target}: {len(xs)} steps of golden data from {kind}"))
    return written


def _check_embed_target(path: str, target: Path, inputs: Sequence[str]) -> None:
    """GoldenError (a usage error, before anything is computed) unless ``target`` may be written: not an
    input, and new or an earlier copy of the same model."""
    from verifier.checks.run.embedded import is_embedded_copy
    from verifier.format.reader.document import read_document
    from verifier.format.reader.guarded import InputError, check_target

    try:
        check_target(target, inputs, "--embed-golden target")
    except InputError as exc:
        raise GoldenError(f"{exc}; choose another directory") from None
    if target.exists() or target.is_symlink():
        try:
            doc, _ = read_document(Path(path))
        except VerifierError:
            return  # the file itself is unreadable: reported per file, nothing is written for it
        if not is_embedded_copy(target, doc):
            raise GoldenError(
                f"--embed-golden: {target} exists and is not an earlier golden copy of {path}; "
                "not replacing it (remove it or choose another directory)"
            )
