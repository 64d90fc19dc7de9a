"""What the C++ golden checker does with a bundle it cannot trust, and its CMake package as a plugin uses it.

A toy model (tests/cpp/check_toy.cpp: 2 inputs, 3 outputs, output j = 2 * input j mod 2) is checked against
bundles written here: hostile ones (a FIFO, a link to /dev/zero, declared sizes of 10^9, duplicate keys, NaN
tolerances, case names that leave the bundle...) and ones Hypothesis mutates. Each must end in a verdict
with a one-line message: never a crash, a hang, a sanitizer report, nor a pass the model does not earn.
Every case runs on a normal build and on one with AddressSanitizer and UndefinedBehaviorSanitizer.

The CMake package is checked through small projects: find_package with a version, and rtv_add_golden_test
under ctest. Without a C++ compiler, CMake or a compiler that can sanitize, these tests skip, except under
``CI=true`` where that is a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cpp_build import ROOT, build_test_programs, cmake_dir, compiler, skip_or_fail, toolchain_or_skip
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from verifier.quoting import MAX_QUOTED


@pytest.fixture(scope="module")
def toys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """check_toy built alone ("release"); "sanitized" is added on first use (_toy)."""
    toolchain_or_skip()
    build = tmp_path_factory.mktemp("golden-cpp-toy")
    build_test_programs(build, "-DCMAKE_BUILD_TYPE=Release", target="check_toy")
    return {"release": build / "check_toy"}


# ------------------------------------------------------------------------- hostile bundles

# check_toy's model: 2 inputs, 3 outputs, output j = 2 * float32(input j mod 2), no state.
TOY_MODEL = b"the toy model's file\n"
TOY_STEPS = {"random": 8, "impulse": 4}
# The toy bundle's index.txt, in order: `format` is line 1, `in_size` line 5, and a line appended is line 16.
TOY_INDEX = {
    "format": "rtneural-verifier-golden",
    "format_version": "1",
    "created_by": "tests/test_golden_cpp.py",
    "model_sha256": hashlib.sha256(TOY_MODEL).hexdigest(),
    "in_size": "2",
    "out_size": "3",
    "reference": "torch",
    "patterns": "frame,stream",
    "cases": "random,impulse",
    "case.random.steps": "8",
    "case.impulse.steps": "4",
    "tolerance.float32.atol": "1e-06",
    "tolerance.float32.rtol": "0.0",
    "tolerance.float64.atol": "1e-09",
    "tolerance.float64.rtol": "0.0",
}
SANITIZER_ENV = {
    # A sanitizer's report exits with its own status, never the 1 of a failed check.
    "ASAN_OPTIONS": "exitcode=99:allocator_may_return_null=0",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=98",
}


def _csv(rows: list[list[float]]) -> bytes:
    return "".join(",".join(repr(v) for v in row) + "\n" for row in rows).encode()


def _toy_files() -> dict[str, bytes]:
    """A bundle check_toy passes, as ``relative path -> bytes``; the expectations are worked out here."""
    files = {"index.txt": "".join(f"{k}={v}\n" for k, v in TOY_INDEX.items()).encode()}
    for name, steps in TOY_STEPS.items():
        xs = [[(3 * t + i) / 8 - 1 for i in range(2)] for t in range(steps)]  # exact in float32
        files[f"inputs/{name}.csv"] = _csv(xs)
        for pattern in ("frame", "stream"):
            files[f"expected/{name}.{pattern}.csv"] = _csv([[2 * x[j % 2] for j in range(3)] for x in xs])
    return files


def _write(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _toy_bundle(root: Path) -> Path:
    return _write(root, _toy_files())


def _run_toy(
    program: Path, bundle: Path, *options: str, model: Path | None = None, timeout: float = 60
) -> tuple[int, str]:
    """(exit status, message) of check_toy; a crash, a hang, a sanitizer report or a message of more than
    one line fails the test."""
    command = [str(program), *options, "2", "3", str(bundle), *([str(model)] if model else [])]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env={**os.environ, **SANITIZER_ENV},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"check_toy did not return within {timeout} s on {bundle}", pytrace=False)
    assert done.returncode in (0, 1), f"check_toy crashed (status {done.returncode}): {done.stderr[-3000:]}"
    assert "Sanitizer" not in done.stderr, done.stderr[-3000:]
    assert "runtime error" not in done.stderr, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 2, f"not one verdict and a one-line message: {done.stdout[:2000]!r}"
    assert lines[0] == f"passed={int(done.returncode == 0)}"
    assert lines[1].startswith("message=")
    return done.returncode, lines[1].removeprefix("message=")


def _sanitizer_or_skip(build: Path) -> None:
    """Skips (fails under CI) when the compiler cannot build and run a program with ASan and UBSan."""
    cxx = compiler()
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    (build / "probe.cpp").write_text(
        "#include <vector>\nint main() { std::vector<int> v(4); return v[1]; }\n"
    )
    probe = [str(cxx), *flags, str(build / "probe.cpp"), "-o", str(build / "probe")]
    if subprocess.run(probe, capture_output=True).returncode != 0 or (
        subprocess.run([str(build / "probe")], capture_output=True).returncode != 0
    ):
        skip_or_fail(f"{cxx} cannot build and run a program with {' '.join(flags)}")


def _toy(toys: dict[str, Path], variant: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if variant not in toys:
        build = tmp_path_factory.mktemp("golden-cpp-sanitized")
        _sanitizer_or_skip(build)
        flags = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
        build_test_programs(
            build,
            "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
            f"-DCMAKE_CXX_FLAGS={flags}",
            f"-DCMAKE_EXE_LINKER_FLAGS={flags}",
            target="check_toy",
        )
        toys[variant] = build / "check_toy"
    return toys[variant]


def _set(key: str, value: str) -> Any:
    def change(bundle: Path) -> None:
        index = bundle / "index.txt"
        lines = index.read_text().splitlines(keepends=True)
        index.write_text(
            "".join(f"{key}={value}\n" if line.startswith(f"{key}=") else line for line in lines)
        )

    return change


def _drop(key: str) -> Any:
    def change(bundle: Path) -> None:
        index = bundle / "index.txt"
        lines = index.read_text().splitlines(keepends=True)
        index.write_text("".join(line for line in lines if not line.startswith(f"{key}=")))

    return change


def _append(raw: bytes) -> Any:
    def change(bundle: Path) -> None:
        with (bundle / "index.txt").open("ab") as index:
            index.write(raw)

    return change


def _replace(name: str, make: Any) -> Any:
    """The bundle file *name* replaced by what ``make(path)`` creates there."""

    def change(bundle: Path) -> None:
        (bundle / name).unlink()
        make(bundle / name)

    return change


def _sparse(size: int) -> Any:
    def make(path: Path) -> None:
        with path.open("wb") as file:
            file.truncate(size)

    return make


def _content(name: str, data: bytes) -> Any:
    def change(bundle: Path) -> None:
        (bundle / name).write_bytes(data)

    return change


def _escaping_case(bundle: Path) -> None:
    # Files a case named ../../outside would reach, outside the bundle, holding numbers the toy passes.
    files = _toy_files()
    outside = bundle.parent
    (outside / "outside.csv").write_bytes(files["inputs/random.csv"])
    for pattern in ("frame", "stream"):
        (outside / f"outside.{pattern}.csv").write_bytes(files[f"expected/random.{pattern}.csv"])
    _set("cases", "random,../../outside")(bundle)
    _append(b"case.../../outside.steps=8\n")(bundle)


MIB = 1 << 20
# (id, what is done to a bundle the toy passes, the file named, what the message says of it)
HOSTILE = [
    (
        "in_size_1e9",
        _set("in_size", "1000000000"),
        "inputs/random.csv",
        "in_size and case.random.steps of index.txt declare 8 rows of 1000000000 values, more than its "
        f"{len(_toy_files()['inputs/random.csv'])} bytes can hold",
    ),
    (
        "out_size_1e9",
        _set("out_size", "1000000000"),
        "expected/random.frame.csv",
        "out_size and case.random.steps of index.txt declare 8 rows of 1000000000 values",
    ),
    (
        "steps_1e9",
        _set("case.random.steps", "1000000000"),
        "inputs/random.csv",
        "in_size and case.random.steps of index.txt declare 1000000000 rows of 2 values",
    ),
    (
        "rows_times_width_overflow_64_bits",
        lambda b: (
            _set("in_size", "100000000000000000")(b),
            _set("case.random.steps", "100000000000000000")(b),
        ),
        "inputs/random.csv",
        f"in_size and case.random.steps of index.txt declare {10**17} rows of {10**17} values",
    ),
    (
        "csv_is_a_fifo",
        _replace("inputs/random.csv", os.mkfifo),
        "inputs/random.csv",
        "not a regular file (a FIFO)",
    ),
    ("index_is_a_fifo", _replace("index.txt", os.mkfifo), "index.txt", "not a regular file (a FIFO)"),
    (
        "csv_links_to_dev_zero",
        _replace("inputs/random.csv", lambda p: p.symlink_to("/dev/zero")),
        "inputs/random.csv",
        "not a regular file (a character device)",
    ),
    (
        "csv_is_a_directory",
        _replace("expected/impulse.stream.csv", Path.mkdir),
        "expected/impulse.stream.csv",
        "not a regular file (a directory)",
    ),
    (
        "csv_over_the_file_limit",
        _replace("inputs/impulse.csv", _sparse(64 * MIB + 1)),
        "inputs/impulse.csv",
        "larger than 67108864 bytes, the limit of GoldenLimits::max_file_bytes",
    ),
    (
        "index_over_its_limit",
        _replace("index.txt", _sparse(MIB + 1)),
        "index.txt",
        "larger than 1048576 bytes, the limit for an index.txt",
    ),
    (
        "csv_missing",
        _replace("inputs/impulse.csv", lambda p: None),
        "inputs/impulse.csv",
        "cannot open (No such file or directory)",
    ),
    ("empty_index", _content("index.txt", b""), "index.txt", "missing key 'format'"),
    (
        "empty_csv",
        _content("inputs/random.csv", b""),
        "inputs/random.csv",
        "in_size and case.random.steps of index.txt declare 8 rows of 2 values, more than its 0 bytes "
        "can hold",
    ),
    (
        "duplicate_key",
        _append(b"in_size=2\n"),
        "index.txt:16",
        "key 'in_size' appears again (first on line 5)",
    ),
    (
        "count_of_20_digits",
        _set("in_size", "9" * 20),
        "index.txt",
        f"'in_size' must be a whole number >= 1 of at most 18 digits, found '{'9' * 20}'",
    ),
    ("negative_count", _set("out_size", "-3"), "index.txt", "'out_size' must be a whole number >= 1"),
    (
        "non_numeric_count",
        _set("case.impulse.steps", "four"),
        "index.txt",
        "'case.impulse.steps' must be a whole number >= 1 of at most 18 digits, found 'four'",
    ),
    (
        "zero_steps",
        _set("case.random.steps", "0"),
        "index.txt",
        "'case.random.steps' must be a whole number >= 1",
    ),
    (
        "fractional_width",
        _set("in_size", "2.0"),
        "index.txt",
        "'in_size' must be a whole number >= 1 of at most 18 digits, found '2.0'",
    ),
    (
        "nan_tolerance",
        _set("tolerance.float32.atol", "nan"),
        "index.txt",
        "'tolerance.float32.atol' must be a finite number >= 0, found 'nan'",
    ),
    (
        "infinite_tolerance",
        _set("tolerance.float64.rtol", "inf"),
        "index.txt",
        "'tolerance.float64.rtol' must be a finite number >= 0, found 'inf'",
    ),
    (
        "negative_tolerance",
        _set("tolerance.float32.rtol", "-1e-06"),
        "index.txt",
        "'tolerance.float32.rtol' must be a finite number >= 0, found '-1e-06'",
    ),
    ("missing_width", _drop("out_size"), "index.txt", "missing key 'out_size'"),
    ("missing_steps", _drop("case.impulse.steps"), "index.txt", "missing key 'case.impulse.steps'"),
    (
        "missing_tolerance",
        _drop("tolerance.float64.atol"),
        "index.txt",
        "missing key 'tolerance.float64.atol'",
    ),
    (
        "case_name_leaves_the_bundle",
        _escaping_case,
        "index.txt",
        "case name '../../outside' is not 1 to 64 letters, digits, '_' or '-'",
    ),
    ("case_name_with_a_slash", _set("cases", "random,sub/impulse"), "index.txt", "case name 'sub/impulse'"),
    ("case_name_dot_dot", _set("cases", ".."), "index.txt", "case name '..'"),
    ("empty_case_name", _set("cases", "random,,impulse"), "index.txt", "case name ''"),
    ("case_listed_twice", _set("cases", "random,random"), "index.txt", "case 'random' is listed twice"),
    (
        "too_many_cases",
        _set("cases", ",".join(f"c{i}" for i in range(300))),
        "index.txt",
        "300 cases, more than the 256 a bundle may hold",
    ),
    (
        "unknown_format_version",
        _set("format_version", "2"),
        "index.txt",
        "format_version '2', this header reads 1 (update rtneural-verifier)",
    ),
    ("format_version_not_a_number", _set("format_version", "1.0"), "index.txt", "format_version '1.0'"),
    ("another_format", _set("format", "csv"), "index.txt", "not a golden bundle index (format is 'csv'"),
    ("one_pattern", _set("patterns", "frame"), "index.txt", "'patterns' must be frame,stream, found 'frame'"),
    (
        "unknown_pattern",
        _set("patterns", "frame,bogus"),
        "index.txt",
        "'patterns' must be frame,stream, found 'frame,bogus'",
    ),
    (
        "sha256_not_hex",
        _set("model_sha256", "xyz"),
        "index.txt",
        "'model_sha256' must be 64 lower-case hex digits, found 'xyz'",
    ),
    ("reference_not_a_name", _set("reference", "torch and more"), "index.txt", "reference 'torch and more'"),
    (
        "nul_byte_in_index",
        _set("created_by", "te\x00st"),
        "index.txt:3",
        "a byte that is not printable ASCII in 'created_by=te\\x00st'",
    ),
    ("line_without_a_key", _append(b"=2\n"), "index.txt:16", "a line without a key: '=2'"),
    ("line_without_equals", _append(b"garbage\n"), "index.txt:16", "expected key=value, found 'garbage'"),
    (
        "long_value_is_cut",
        _set("format", "x" * 5000),
        "index.txt",
        f"not a golden bundle index (format is '{'x' * MAX_QUOTED}…' (5,000 bytes), "
        "not rtneural-verifier-golden)",
    ),
    (
        "number_of_100_digits",
        _content("inputs/impulse.csv", b"1" * 100 + b",0\n"),
        "inputs/impulse.csv:1",
        f"'{'1' * MAX_QUOTED}…' (100 bytes) is not a finite number of at most 64 characters",
    ),
    (
        "nan_in_csv",
        _content("inputs/impulse.csv", b"nan,0\n" * 4),
        "inputs/impulse.csv:1",
        "'nan' is not a finite",
    ),
    (
        "inf_in_csv",
        _content("expected/impulse.frame.csv", b"inf,0,0\n" * 4),
        "expected/impulse.frame.csv:1",
        "'inf' is not a finite",
    ),
    ("hex_float_in_csv", _content("inputs/impulse.csv", b"0x1p3,0\n" * 4), "inputs/impulse.csv:1", "'0x1p3'"),
    (
        "overflowing_number",
        _content("inputs/impulse.csv", b"1e999,0\n" * 4),
        "inputs/impulse.csv:1",
        "'1e999'",
    ),
    (
        "binary_bytes_in_csv",
        _content("inputs/impulse.csv", b"\x00\xff,\x01\n" * 4),
        "inputs/impulse.csv:1",
        "'\\x00\\xff' is not a finite number",
    ),
    (
        "a_row_too_many",
        _content("inputs/impulse.csv", b"0,0\n" * 5),
        "inputs/impulse.csv:5",
        "a row beyond the 4 declared (in_size and case.impulse.steps of index.txt)",
    ),
    (
        "a_row_too_few",
        _content("inputs/impulse.csv", b"0.5,0.25\n" * 3),
        "inputs/impulse.csv",
        "expected 4 rows, found 3",
    ),
    (
        "a_value_too_many",
        _content("inputs/impulse.csv", b"0,0,0\n" * 4),
        "inputs/impulse.csv:1",
        "expected 2 values, found 3",
    ),
    (
        "a_row_over_80_bytes_a_value",
        _content("inputs/impulse.csv", (b"0," + b" " * 158 + b"0\n") * 4),
        "inputs/impulse.csv:1",
        "a row of 161 bytes, more than 80 bytes for each of its 2 values",
    ),
    (
        "a_million_commas",
        _content("inputs/impulse.csv", b"," * 1_000_000 + b"\n"),
        "inputs/impulse.csv:1",
        "a row of 1000000 bytes, more than 80 bytes for each of its 2 values",
    ),
]


@pytest.mark.parametrize("variant", ["release", "sanitized"])
@pytest.mark.parametrize(("change", "file", "problem"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_a_hostile_bundle_fails_naming_the_file_and_the_problem(
    toys: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    variant: str,
    change: Any,
    file: str,
    problem: str,
) -> None:
    program = _toy(toys, variant, tmp_path_factory)
    bundle = _toy_bundle(tmp_path / "bundle")
    change(bundle)
    status, message = _run_toy(program, bundle)
    assert status == 1
    assert message.startswith("FAIL: unusable golden bundle: "), message
    assert f"{bundle}/{file}: {problem}" in message


@pytest.mark.parametrize("variant", ["release", "sanitized"])
def test_the_toy_bundle_passes_and_a_changed_expectation_fails(
    toys: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, variant: str
) -> None:
    # The baseline of the hostile cases: untouched, the bundle passes; so each failure above is its change's.
    program = _toy(toys, variant, tmp_path_factory)
    bundle = _toy_bundle(tmp_path / "bundle")
    (tmp_path / "toy.model").write_bytes(TOY_MODEL)
    assert _run_toy(program, bundle, model=tmp_path / "toy.model") == (
        0,
        "PASS: 72 elements within atol 1e-06 + rtol 0 |expected| (float32, reference torch); worst |error| 0 "
        "at pattern frame, case random, step 0, output 0",
    )
    stream = bundle / "expected" / "impulse.stream.csv"
    stream.write_text(stream.read_text().replace("-2.0", "-2.5", 1))
    status, message = _run_toy(program, bundle)
    assert status == 1
    assert "worst at pattern stream, case impulse, step 0, output 0: expected -2.5, got -2" in message


def test_a_bundle_of_symbolic_links_to_regular_files_passes(toys: dict[str, Path], tmp_path: Path) -> None:
    # As Bazel lays out a test's data (runfiles): every file a link to the real one elsewhere.
    real = _toy_bundle(tmp_path / "real")
    for name in _toy_files():
        (tmp_path / "links" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "links" / name).symlink_to(real / name)
    assert _run_toy(toys["release"], tmp_path / "links")[0] == 0


def test_a_bundle_with_crlf_line_ends_passes(toys: dict[str, Path], tmp_path: Path) -> None:
    # What a checkout with git's autocrlf makes of a bundle.
    files = {name: data.replace(b"\n", b"\r\n") for name, data in _toy_files().items()}
    assert _run_toy(toys["release"], _write(tmp_path / "bundle", files))[0] == 0


def test_a_model_file_that_is_a_fifo_fails_without_blocking(toys: dict[str, Path], tmp_path: Path) -> None:
    bundle = _toy_bundle(tmp_path / "bundle")
    os.mkfifo(tmp_path / "model.json")
    status, message = _run_toy(toys["release"], bundle, model=tmp_path / "model.json")
    assert status == 1
    assert message == (
        "FAIL: cannot read the model file to check its SHA-256: "
        f"{tmp_path}/model.json: not a regular file (a FIFO)"
    )


def test_a_model_that_throws_fails_the_check_instead_of_escaping_it(
    toys: dict[str, Path], tmp_path: Path
) -> None:
    bundle = _toy_bundle(tmp_path / "bundle")
    status, message = _run_toy(toys["release"], bundle, "--throwing")
    assert (status, message) == (1, f"FAIL: exception while checking against {bundle}: the toy model throws")


# ------------------------------------------------------------------- fuzzed bundles (Hypothesis, check_toy)

# Texts that sit near the format's rules, mixed with arbitrary bytes.
_NEAR_RULES = [
    b"",
    b"0",
    b"-1",
    b"1",
    b"2",
    b"3",
    b"02",
    b"1000000000",
    b"9" * 20,
    b"nan",
    b"inf",
    b"1e-06",
    b"1e308",
    b"-0.0",
    b"+1",
    b".5",
    b"1e999",
    b"0x1p3",
    b"frame,stream",
    b"stream,frame",
    b"frame",
    b"random",
    b"random,impulse",
    b"impulse",
    b"../x",
    b"a/b",
    b"random,random",
    b"2.0",
    b" 2 ",
    b"\x00",
    b",",
    b"\n",
    b"\r\n",
    b"#",
    b"=",
    b"\t",
]
_PIECES = st.one_of(st.sampled_from(_NEAR_RULES), st.binary(max_size=12))


@st.composite
def _mutated_toy_bundles(draw: st.DrawFn) -> dict[str, bytes]:
    """The toy bundle after one to four changes: a value set or nudged, bytes spliced, a file cut, a line
    repeated, dropped or commented."""
    files = _toy_files()
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(files)))
        data = files[name]
        lines = data.split(b"\n")
        line = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["set", "splice", "cut", "repeat", "drop", "nudge", "comment"]))
        if kind == "nudge" and name != "index.txt":
            # A value moved by up to 3x the float32 atol (1e-6): verdicts on both sides of the tolerance.
            fields = lines[line].split(b",")
            field = draw(st.integers(0, len(fields) - 1))
            delta = draw(st.floats(-3e-6, 3e-6))
            with contextlib.suppress(ValueError):  # a field an earlier change made no number
                fields[field] = repr(float(fields[field]) + delta).encode()
            lines[line] = b",".join(fields)
        elif kind == "comment":
            lines.insert(line, b"# " + draw(st.binary(max_size=8)).replace(b"\n", b""))
        elif kind == "set" and name == "index.txt":
            key = draw(st.sampled_from(sorted(TOY_INDEX)))
            lines = [
                key.encode() + b"=" + draw(_PIECES) if x.startswith(key.encode() + b"=") else x for x in lines
            ]
        elif kind == "set":
            fields = lines[line].split(b",")
            fields[draw(st.integers(0, len(fields) - 1))] = draw(_PIECES)
            lines[line] = b",".join(fields)
        elif kind == "splice":
            start = draw(st.integers(0, len(data)))
            end = draw(st.integers(start, min(len(data), start + 16)))
            lines = (data[:start] + draw(_PIECES) + data[end:]).split(b"\n")
        elif kind == "cut":
            lines = data[: draw(st.integers(0, len(data)))].split(b"\n")
        elif kind == "repeat":
            lines.insert(line, lines[line])
        elif kind == "drop":
            del lines[line]
        files[name] = b"\n".join(lines)
    return files


def _rows(data: bytes) -> np.ndarray:
    rows = [line.strip(b" \t\r") for line in data.split(b"\n")]
    rows = [row for row in rows if row and not row.startswith(b"#")]
    return np.array([[float(v) for v in row.split(b",")] for row in rows], dtype=np.float64)


def _toy_would_pass(files: dict[str, bytes]) -> bool:
    """Whether check_toy's model truly meets the bundle *files*, worked out apart from the checker: numpy
    arithmetic, Python's float() (which accepts more than the checker does, never less)."""
    try:
        index: dict[str, str] = {}
        for raw in files["index.txt"].decode("ascii").split("\n"):
            line = raw.strip(" \t\r")
            if line and not line.startswith("#"):
                key, value = line.split("=", 1)
                index[key.strip()] = value.strip()
        if (int(index["in_size"]), int(index["out_size"])) != (2, 3):
            return False
        atol, rtol = float(index["tolerance.float32.atol"]), float(index["tolerance.float32.rtol"])
        for case in (name.strip() for name in index["cases"].split(",")):
            xs = _rows(files[f"inputs/{case}.csv"])
            steps = int(index[f"case.{case}.steps"])
            if xs.shape != (steps, 2):
                return False
            outputs = 2 * xs.astype(np.float32)[:, [0, 1, 0]].astype(np.float64)
            for pattern in ("frame", "stream"):
                expected = _rows(files[f"expected/{case}.{pattern}.csv"])
                if expected.shape != outputs.shape or not np.all(
                    np.abs(outputs - expected) <= atol + rtol * np.abs(expected)
                ):
                    return False
        return True
    except (KeyError, ValueError, UnicodeDecodeError):
        return False


@pytest.mark.parametrize("variant", ["release", "sanitized"])
@given(files=_mutated_toy_bundles())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_a_fuzzed_bundle_gets_a_verdict_and_never_a_false_pass(
    toys: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, variant: str, files: dict[str, bytes]
) -> None:
    program = _toy(toys, variant, tmp_path_factory)
    with tempfile.TemporaryDirectory() as root:
        bundle = _write(Path(root) / "bundle", files)
        status, message = _run_toy(program, bundle)  # no crash, no hang, a one-line message
    assert message.startswith("PASS: " if status == 0 else "FAIL: ")
    event("passed" if status == 0 else message.replace(str(bundle), "")[:70])
    if status == 0:
        assert _toy_would_pass(files), f"passed a bundle the toy model does not meet: {message}"


# --------------------------------------------------------------------- the CMake package, as a plugin uses it


def _configure(source: Path, build: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["cmake", "-S", str(source), "-B", str(build), f"-Drtneural_verifier_DIR={cmake_dir()}"],
        capture_output=True,
        text=True,
    )


def _version_project(root: Path, requirement: str) -> Path:
    root.mkdir()
    (root / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.19)\n"
        "project(version_probe LANGUAGES NONE)\n"
        f"find_package(rtneural_verifier {requirement} CONFIG REQUIRED)\n"
        'message(STATUS "rtneural_verifier_VERSION=${rtneural_verifier_VERSION}")\n'
    )
    return root


def _package_version() -> tuple[str, int, int]:
    import verifier

    major, minor = (int(part) for part in verifier.__version__.split(".")[:2])
    return verifier.__version__, major, minor


def test_find_package_with_a_version_finds_the_python_packages_version(tmp_path: Path) -> None:
    toolchain_or_skip()
    version, major, minor = _package_version()
    for number, requirement in enumerate(
        (f"{major}.{minor}", version, f"{version} EXACT", f"{major}.{minor}...99")
    ):
        done = _configure(_version_project(tmp_path / f"p{number}", requirement), tmp_path / f"b{number}")
        assert done.returncode == 0, (
            f"find_package(rtneural_verifier {requirement}) failed:\n{done.stderr[-3000:]}"
        )
        assert f"rtneural_verifier_VERSION={version}\n" in done.stdout


def test_find_package_refuses_a_version_this_package_does_not_meet(tmp_path: Path) -> None:
    toolchain_or_skip()
    version, major, minor = _package_version()
    # Higher (next minor, next major) and, before 1.0, an older minor: a 0.x minor release may break the API.
    too_high = [
        f"{major}.{minor + 1}",
        f"{major + 1}.0",
        f"{major}.{minor}.999",
        f"{major + 1}...{major + 2}",
    ]
    older = [f"{major}.{minor - 1}"] if major == 0 and minor > 0 else []
    for number, requirement in enumerate(too_high + older):
        done = _configure(_version_project(tmp_path / f"p{number}", requirement), tmp_path / f"b{number}")
        assert done.returncode != 0, f"find_package(rtneural_verifier {requirement}) accepted {version}"
        assert "not compatible with the version requested" in done.stderr
        assert f"version: {version}" in done.stderr


def test_rtv_add_golden_test_registers_a_ctest_that_passes_a_met_bundle_and_fails_the_others(
    tmp_path: Path,
) -> None:
    toolchain_or_skip()
    _toy_bundle(tmp_path / "golden" / "good")
    bad = _toy_files()
    bad["expected/impulse.stream.csv"] = bad["expected/impulse.stream.csv"].replace(b"-2.0", b"-2.5", 1)
    _write(tmp_path / "golden" / "bad", bad)
    (tmp_path / "toy.model").write_bytes(TOY_MODEL)
    project = tmp_path / "plugin"
    project.mkdir()
    (project / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\n"
        "project(plugin_tests LANGUAGES CXX)\n"
        "enable_testing()\n"
        "find_package(rtneural_verifier 0.1 CONFIG REQUIRED)\n"
        f'add_executable(check_toy "{(ROOT / "tests" / "cpp" / "check_toy.cpp").as_posix()}")\n'
        "target_link_libraries(check_toy PRIVATE rtneural_verifier::golden)\n"
        "rtv_add_golden_test(NAME toy_good COMMAND check_toy 2 3 BUNDLE ../golden/good MODEL ../toy.model)\n"
        "rtv_add_golden_test(NAME toy_bad COMMAND check_toy 2 3 BUNDLE ../golden/bad TIMEOUT 60)\n"
        "rtv_add_golden_test(NAME toy_unwritten COMMAND check_toy 2 3 BUNDLE ../golden/none LABELS toy)\n"
    )
    build = tmp_path / "build"
    for command in (
        ["cmake", "-S", str(project), "-B", str(build), f"-Drtneural_verifier_DIR={cmake_dir()}"],
        ["cmake", "--build", str(build)],
    ):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, (
            f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )

    def ctest(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ctest", "--test-dir", str(build), "--output-on-failure", *args], capture_output=True, text=True
        )

    listed = ctest("-N", "-L", "^golden$")
    assert "Total Tests: 3" in listed.stdout
    good = ctest("-R", "^toy_good$")
    assert good.returncode == 0, good.stdout
    assert "100% tests passed" in good.stdout
    failed = ctest("-R", "^toy_bad$")
    assert failed.returncode != 0
    assert "worst at pattern stream, case impulse, step 0, output 0: expected -2.5, got -2" in failed.stdout
    unwritten = ctest("-R", "^toy_unwritten$")
    assert unwritten.returncode != 0
    assert "Not Run" in unwritten.stdout  # REQUIRED_FILES: the bundle's index.txt is not there
    assert f"required file: {(tmp_path / 'golden' / 'none' / 'index.txt').as_posix()}" in unwritten.stderr


def test_rtv_add_golden_test_refuses_a_call_without_a_bundle(tmp_path: Path) -> None:
    toolchain_or_skip()
    project = tmp_path / "plugin"
    project.mkdir()
    (project / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\n"
        "project(plugin_tests LANGUAGES NONE)\n"
        "enable_testing()\n"
        "find_package(rtneural_verifier CONFIG REQUIRED)\n"
        "rtv_add_golden_test(NAME toy COMMAND check_toy 2 3)\n"
    )
    done = _configure(project, tmp_path / "build")
    assert done.returncode != 0
    assert "rtv_add_golden_test: BUNDLE is required" in done.stderr


def test_a_raised_file_limit_lets_a_file_over_the_default_be_read(
    toys: dict[str, Path], tmp_path: Path
) -> None:
    bundle = _toy_bundle(tmp_path / "bundle")
    _replace("inputs/impulse.csv", _sparse(64 * MIB + 1))(bundle)  # one line of NUL bytes
    _, message = _run_toy(toys["release"], bundle, f"--max-file-bytes={65 * MIB}")
    assert f"{bundle}/inputs/impulse.csv:1: a row of {64 * MIB + 1} bytes, more than 80 bytes" in message
    _, message = _run_toy(toys["release"], bundle, f"--max-file-bytes={32 * MIB}")
    limit = f"larger than {32 * MIB} bytes, the limit of GoldenLimits::max_file_bytes"
    assert f"{bundle}/inputs/impulse.csv: {limit}" in message


def test_the_bundle_limit_caps_all_files_of_a_bundle_together(toys: dict[str, Path], tmp_path: Path) -> None:
    bundle = _toy_bundle(tmp_path / "bundle")
    files = _toy_files()
    # Files are read in this order: the index, then each case's inputs, frame and stream expectations.
    allowed = len(files["index.txt"]) + len(files["inputs/random.csv"]) + 10
    status, message = _run_toy(toys["release"], bundle, f"--max-bundle-bytes={allowed}")
    assert status == 1
    assert message.endswith(
        f"{bundle}/expected/random.frame.csv: larger than 10 bytes, what is left of "
        f"GoldenLimits::max_bundle_bytes ({allowed} bytes for all files of a bundle together)"
    )
    assert _run_toy(toys["release"], bundle, f"--max-bundle-bytes={sum(map(len, files.values()))}")[0] == 0


def test_a_row_of_80_bytes_a_value_is_read(toys: dict[str, Path], tmp_path: Path) -> None:
    # The edge of the row-length bound: spaces before a separator are allowed up to 80 bytes a value.
    files = _toy_files()
    rows = files["inputs/impulse.csv"].decode().splitlines()
    padded = [row.replace(",", " " * (160 - len(row)) + ",") for row in rows]
    assert {len(row) for row in padded} == {160}
    files["inputs/impulse.csv"] = "".join(f"{row}\n" for row in padded).encode()
    assert _run_toy(toys["release"], _write(tmp_path / "bundle", files))[0] == 0
