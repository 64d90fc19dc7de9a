"""Files the toolkit reads besides model files (manifest, pyproject.toml, a stored report, a repro folder, a
golden bundle) and the files it writes, on hostile terms: a FIFO, a device, a /proc file, a nesting of 100,000
levels, an integer of 5,001 digits, a lone surrogate, a count of 10^12, an output that is an input.

Each must end in a usage error (exit 2, one line naming the file and the place) or a finding, never a hang, a
traceback (exit 3), gigabytes of memory, a false pass or a file of the user's overwritten. Runs that could
hang or exhaust memory are child processes with a timeout and an address-space limit.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import verdict_modules

from verifier.checks.diagnose.repro import FORMAT as REPRO_FORMAT
from verifier.checks.diagnose.repro import ReproError, replay
from verifier.checks.golden.bundles import GoldenError, read_bundle, write_bundle
from verifier.checks.limits import (
    MAX_COUNT,
    MAX_REFERENCE_CHARS,
    MAX_RSS_COPIES,
    MAX_TIMING_STEPS,
    MAX_WARMUP,
    REFERENCE_PATTERN,
    is_tolerance,
)
from verifier.checks.run.manifest import ManifestError, load_manifest, parse_manifest
from verifier.cli import main
from verifier.format.findings import Limits
from verifier.format.reader import guarded
from verifier.format.reader.guarded import InputError, read_bytes, read_csv, read_json, write_file
from verifier.format.schema.validator import schema
from verifier.pytorch.export import export

TESTS = Path(__file__).resolve().parent
FAST = ["--no-timing", "--rss-copies", "0", "--steps", "16", "--no-manifest"]
#: address space of a child run: torch's import reserves ~640 MB; reading /dev/zero to its end took 2.9 GB
CHILD_ADDRESS_SPACE = 2 << 30
DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5001


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))


def run_child(
    *argv: object, cwd: Path, module: str = "verifier", python: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m verifier ARGV`` (another module, or ``python PYTHON ARGV``) in a child: 30 s and 2 GiB at
    most (a hang is a TimeoutExpired, an exhausted memory a MemoryError: either fails the test)."""
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")} | {"PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, *(python or ["-m", module]), *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=30,
        preexec_fn=_limit_memory,
        check=False,
    )


def usage_error(done: subprocess.CompletedProcess[str], *said: str) -> str:
    """Assert exit 2 with one line on stderr holding each of ``said``; the line."""
    assert done.returncode == 2, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    for text in said:
        assert text in lines[0], lines[0]
    return lines[0]


def verify(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


# Shaped like verdict_modules.faithful, other weights: the export of faithful fails against it.
WRONG_MODULE = """
import torch
from torch import nn


def build():
    torch.manual_seed(4)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4))
"""


@pytest.fixture
def model(tmp_path, monkeypatch) -> Path:
    """An export of verdict_modules.faithful, beside ``wrongmodule.py`` (``wrongmodule:build`` importable
    here and in a child run in ``tmp_path``)."""
    path = tmp_path / "model.json"
    export(verdict_modules.faithful(), path)
    (tmp_path / "wrongmodule.py").write_text(WRONG_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return path


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    return path


def _report(tmp_path: Path, model: Path, capsys) -> Path:
    report = tmp_path / "report.json"
    code, _, _ = verify(capsys, model, "--format", "json", "-o", report, *FAST)
    assert code == 0
    return report


# A hostile file of each kind: what it holds (None: a special file given by path instead).
HOSTILE_JSON = {
    "deep-nesting": '{"a": ' + DEEP + "}",
    "5001-digit-integer": '{"a": ' + HUGE_INT + "}",
    "lone-surrogate": '{"a": "\\ud800"}',
    "not-an-object": "[1, 2]",
    "not-json": "{",
    "not-utf8": b'{"a": "\xff"}',
    "infinity-literal": '{"a": Infinity}',
    "conflicting-duplicate-key": '{"a": 1, "a": 2}',
}


def _hostile(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.json"
    content = HOSTILE_JSON[kind]
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


# --- the guarded reader itself --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(HOSTILE_JSON))
def test_the_guarded_json_reader_refuses_each_hostile_kind_naming_the_file(tmp_path, kind):
    path = _hostile(tmp_path, kind)
    with pytest.raises(InputError) as refused:
        read_json(path)
    assert str(refused.value).startswith(f"{path}: /")
    assert "keras-json" not in str(refused.value)  # the model reader's wording does not leak


def test_the_guarded_reader_refuses_special_files_without_reading_them(tmp_path, fifo):
    for special in (fifo, Path("/dev/zero"), tmp_path):
        with pytest.raises(InputError, match="not a regular file"):
            read_bytes(special, 1 << 20)


def test_the_guarded_reader_reads_at_most_its_cap_of_a_file_whose_size_says_zero():
    # /proc files say 0 bytes and hold more: the cap, not the size stat gives, bounds the read.
    assert os.stat("/proc/self/maps").st_size == 0
    with pytest.raises(InputError, match="file too large"):
        read_bytes("/proc/self/maps", 16)


def test_a_file_larger_than_the_cap_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "sparse.json"
    with open(path, "wb") as handle:
        handle.truncate(guarded.MAX_REPORT_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(InputError, match="file too large"):
        read_json(path, guarded.MAX_REPORT_BYTES)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("1,2\n3\n", "line 2: 1 values where line 1 has 2"),
        ("1,nan\n", "line 1: holds a number that is not finite"),
        ("1,1e400\n", "line 1: holds a number that is not finite"),
        ("1,x\n", "line 1: not a comma-separated row of numbers"),
        ("\n\n", "no rows"),
        ("1\n" * 9, "9 rows; at most 8"),
        (",".join("0" * 9) + "\n", "9 columns; at most 8"),
    ],
    ids=["ragged", "nan", "overflow", "text", "empty", "too-many-rows", "too-many-columns"],
)
def test_the_csv_reader_refuses_what_it_cannot_hold_exactly(tmp_path, text, said):
    path = tmp_path / "values.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=said):
        read_csv(path, max_rows=8, max_columns=8)


def test_a_failed_write_leaves_the_old_file_whole_and_no_staging_file(tmp_path, monkeypatch):
    target = tmp_path / "report.txt"
    target.write_text("before")

    def full_device(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(guarded.os, "write", full_device)
    with pytest.raises(InputError, match="No space left on device"):
        write_file(target, "after" * 1000)
    assert target.read_text() == "before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


# --- verify render / --baseline --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["/dev/zero", "fifo", "deep-nesting", "5001-digit-integer", "lone-surrogate"]
)
@pytest.mark.parametrize("how", ["render", "baseline"])
def test_a_hostile_report_is_a_usage_error_naming_it(tmp_path, model, fifo, kind, how):
    report = {"/dev/zero": Path("/dev/zero"), "fifo": fifo}.get(kind) or _hostile(tmp_path, kind)
    argv = ["render", report] if how == "render" else [model, "--baseline", report, *FAST]
    done = run_child(*argv, cwd=tmp_path)
    usage_error(done, str(report))


# --- the manifest and pyproject.toml ---------------------------------------------------------------------


def _manifest(tmp_path: Path, model: Path, **top: object) -> Path:
    data = {"models": [{"name": "m", "file": model.name}], **top}
    path = tmp_path / "verifier.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "kind", ["/dev/zero", "fifo", "deep-nesting", "5001-digit-integer", "lone-surrogate", "not-an-object"]
)
def test_a_hostile_manifest_is_a_usage_error_naming_it(tmp_path, model, fifo, kind):
    manifest = {"/dev/zero": Path("/dev/zero"), "fifo": fifo}.get(kind) or _hostile(tmp_path, kind)
    done = run_child(model, "--manifest", manifest, "--no-timing", "--rss-copies", "0", cwd=tmp_path)
    usage_error(done, f"manifest {manifest}: ")


def test_a_lone_surrogate_in_a_model_name_is_refused_with_its_pointer(tmp_path, model):
    path = tmp_path / "m.json"
    path.write_text('{"models": [{"name": "\\ud800", "file": "model.json"}]}')
    with pytest.raises(ManifestError, match="/models/0/name: a string is not valid Unicode"):
        load_manifest(path)


@pytest.mark.parametrize(
    ("top", "pointer"),
    [
        ({"latency": {"steps": 10**9}}, "/latency/steps"),
        ({"latency": {"warmup": 10**12}}, "/latency/warmup"),
        ({"latency": {"steps": 1e300}}, "/latency/steps"),
        ({"memory": {"budget_bytes": 1, "rss_copies": 10**9}}, "/memory/rss_copies"),
        ({"tolerance": {"float32": {"atol": "1e-5"}}}, "/tolerance/float32/atol"),
    ],
    ids=["steps-1e9", "warmup-1e12", "steps-1e300", "rss-copies-1e9", "string-atol"],
)
def test_a_manifest_value_no_run_can_act_on_is_a_usage_error(capsys, tmp_path, model, top, pointer):
    manifest = _manifest(tmp_path, model, **top)
    code, _, err = verify(capsys, model, "--manifest", manifest, "--no-timing", "--rss-copies", "0")
    assert code == 2
    assert f"manifest {manifest}: {pointer}: " in err


def test_an_infinite_manifest_atol_is_refused_not_a_pass(capsys, tmp_path, model):
    # 1e400 is infinity to Python's json: every output would pass. The wrong module must not exit 0.
    manifest = tmp_path / "verifier.json"
    manifest.write_text(
        '{"tolerance": {"float32": {"atol": 1e400}}, "models": [{"name": "m", "file": "model.json"}]}'
    )
    code, _, err = verify(capsys, model, "--manifest", manifest, "--against", "wrongmodule:build")
    assert code == 2
    assert "/tolerance/float32/atol" in err


def test_a_manifest_given_as_a_dict_with_an_infinite_tolerance_is_refused(tmp_path):
    data = {"models": [{"name": "m", "file": "m.json", "tolerance": {"float32": {"atol": float("inf")}}}]}
    with pytest.raises(ManifestError, match="/models/0/tolerance/float32/atol"):
        parse_manifest(data, tmp_path / "m.json")


def test_a_nul_in_a_model_file_name_is_a_usage_error_naming_its_pointer(capsys, tmp_path, model):
    manifest = tmp_path / "verifier.json"
    manifest.write_text('{"models": [{"name": "m", "file": "model.json\\u0000"}]}')
    code, _, err = verify(capsys, model, "--manifest", manifest, "--no-timing", "--rss-copies", "0")
    assert code == 2
    assert f"manifest {manifest}: /models/0/file: not a usable path" in err


def test_manifest_counts_written_as_floats_are_used_as_whole_numbers(tmp_path, model):
    # JSON Schema's integer admits 50.0; the engine's timer takes ints only (it raised: exit 3).
    _manifest(tmp_path, model, latency={"steps": 50.0, "warmup": 3.0})
    manifest = load_manifest(tmp_path / "verifier.json")
    assert (manifest.latency_steps, manifest.latency_warmup) == (50, 3)
    assert type(manifest.latency_steps) is int
    assert type(manifest.latency_warmup) is int


def test_the_manifest_schema_states_the_limits_the_run_enforces():
    manifest = schema("manifest")
    latency = manifest["properties"]["latency"]["properties"]
    memory = manifest["properties"]["memory"]["properties"]
    model = manifest["$defs"]["model"]["properties"]
    assert latency["steps"]["maximum"] == MAX_TIMING_STEPS
    assert latency["warmup"]["maximum"] == MAX_WARMUP
    assert memory["rss_copies"]["maximum"] == MAX_RSS_COPIES
    assert memory["budget_bytes"]["maximum"] == MAX_COUNT
    assert manifest["$defs"]["width"]["maximum"] == Limits().max_layer_width
    assert model["factory"]["maxLength"] == MAX_REFERENCE_CHARS
    assert model["factory"]["pattern"] == f"^{REFERENCE_PATTERN}$"


@pytest.mark.parametrize(
    ("pyproject", "said"),
    [
        ('[tool.verifier]\nmanifest = "/dev/zero"\n', "/dev/zero: /: cannot read the file"),
        (
            "[tool.verifier]\nmanifest = 1" + "0" * 5000 + "\n",
            "pyproject.toml: /: cannot read [tool.verifier]",
        ),
        ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "pyproject.toml: /: cannot read [tool.verifier]"),
        ("[tool]\nverifier = 3\n", "tool.verifier must be a table"),
    ],
    ids=["manifest-dev-zero", "5001-digit-integer", "deep-nesting", "verifier-not-a-table"],
)
def test_a_hostile_pyproject_is_a_usage_error_or_ignored(tmp_path, model, pyproject, said):
    (tmp_path / "pyproject.toml").write_text(pyproject)
    done = run_child(model.name, "--no-timing", "--rss-copies", "0", "--steps", "16", cwd=tmp_path)
    if said is None:
        assert done.returncode == 0, done.stderr
    else:
        usage_error(done, said)


def test_a_pyproject_that_is_a_fifo_is_refused_not_waited_on(tmp_path, model):
    os.mkfifo(tmp_path / "pyproject.toml")
    done = run_child(model.name, "--no-timing", "--rss-copies", "0", cwd=tmp_path)
    usage_error(done, "pyproject.toml", "a FIFO")


@pytest.mark.parametrize("kind", ["/dev/zero", "5001-digit-integer", "lone-surrogate", "deep-nesting"])
def test_the_pytest_plugin_on_a_hostile_manifest_is_a_usage_error_not_an_internal_error(tmp_path, kind):
    manifest = Path("/dev/zero") if kind == "/dev/zero" else _hostile(tmp_path, kind)
    (tmp_path / "test_unit.py").write_text("def test_one():\n    pass\n")
    done = run_child("-p", "no:cacheprovider", "--verify-manifest", manifest, cwd=tmp_path, module="pytest")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:] + done.stderr[-2000:]
    assert "INTERNALERROR" not in done.stdout + done.stderr
    assert f"manifest {manifest}: " in done.stderr


# --- a repro folder --------------------------------------------------------------------------------------


@pytest.fixture
def repro(tmp_path, model) -> Path:
    """A numeric failure's repro folder written by hand: expected outputs of zeros, which the model's
    outputs are not, so it reproduces (exit 1)."""
    folder = tmp_path / "repro"
    folder.mkdir()
    (folder / "model.json").write_bytes(model.read_bytes())
    inputs = np.linspace(-1, 1, 4 * 6).reshape(4, 6)
    (folder / "inputs.csv").write_text("".join(",".join(map(repr, row)) + "\n" for row in inputs.tolist()))
    (folder / "expected.csv").write_text("0,0,0,0\n" * 4)
    meta = {
        "format": REPRO_FORMAT,
        "format_version": 1,
        "check": "numeric-stream",
        "pattern": "stream",
        "dtype": "float32",
        "atol": 1e-5,
        "rtol": 0.0,
        "rule": None,
    }
    (folder / "check.json").write_text(json.dumps(meta))
    return folder


def _edit_meta(folder: Path, **changes: object) -> None:
    meta = json.loads((folder / "check.json").read_text())
    meta.update(changes)
    (folder / "check.json").write_text(json.dumps({k: v for k, v in meta.items() if v != "DROP"}))


def test_the_hand_written_repro_folder_reproduces(capsys, repro):
    code, out, _ = verify(capsys, "replay", repro)
    assert code == 1
    assert "reproduces" in out


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"pattern": "DROP"}, "/pattern: missing"),
        ({"dtype": "DROP"}, "/dtype: missing"),
        ({"dtype": "float16"}, "/dtype: expected"),
        ({"atol": "1e-5"}, "/atol: expected"),
        ({"atol": None}, "/atol: null"),
        ({"rtol": [1]}, "/rtol: expected"),
        ({"check": "DROP"}, "/check: missing"),
        ({"format_version": 2}, "/format_version: expected"),
    ],
    ids=[
        "no-pattern",
        "no-dtype",
        "float16",
        "string-atol",
        "null-atol",
        "list-rtol",
        "no-check",
        "version-2",
    ],
)
def test_a_check_json_replay_cannot_act_on_is_a_usage_error(capsys, repro, changes, pointer):
    _edit_meta(repro, **changes)
    code, out, err = verify(capsys, "replay", repro)
    assert code == 2, out  # a missing pattern said "no longer fails" (exit 0): a false pass
    assert f"{repro / 'check.json'}: {pointer}" in err


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "deep-nesting", "5001-digit-integer"])
@pytest.mark.parametrize("name", ["check.json", "inputs.csv", "expected.csv"])
def test_a_hostile_file_in_a_repro_folder_is_a_usage_error(tmp_path, repro, kind, name):
    target = repro / name
    target.unlink()
    if kind == "/dev/zero":
        target.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.write_text(HOSTILE_JSON[kind] if name == "check.json" else HUGE_INT + "\n" + DEEP)
    done = run_child("replay", repro, cwd=tmp_path)
    usage_error(done, str(target))


def test_a_check_json_over_its_cap_is_a_usage_error_naming_the_file(capsys, repro):
    # 3 MB of numbers here peaked at 75 MB while read; check.json is a dozen short keys.
    path = repro / "check.json"
    text = path.read_text()
    path.write_text(text + " " * (guarded.MAX_REPRO_META_BYTES + 1 - len(text)))
    code, out, err = verify(capsys, "replay", repro)
    assert code == 2, out
    assert str(path) in err
    assert f"{guarded.MAX_REPRO_META_BYTES:,}" in err or str(guarded.MAX_REPRO_META_BYTES) in err


def test_the_largest_check_json_the_writer_makes_replays(tmp_path, model):
    # Every free-form text at its worst: astral characters (12 bytes each once escaped), a module name from
    # the user's code far beyond any cut, the longest path an origin can be.
    from verifier.checks.diagnose.diverge import Divergence
    from verifier.checks.diagnose.reduce import Reduction
    from verifier.checks.diagnose.repro import read_meta, write_repro

    wide = "\U0001f600" * 100_000
    divergence = Divergence(wide, 0, wide, wide, 0, wide, 1.0, 0.0, wide, 1.0, wide, wide)
    doc = json.loads(model.read_text())
    reduction = Reduction(
        check="numeric-frame",
        doc=doc,
        layers=(0, 1),
        original_layers=1,
        original_parameters=0,
        parameters=0,
        dtype="float32",
        atol=1e-5,
        rtol=0.0,
        steps=(0, 1),
        original_steps=1,
        inputs=np.zeros((1, 6)),
        expected=np.zeros((1, 4)),
        actual=np.ones((1, 4)),
        divergence=divergence,
    )
    origin = "\udcff" * 4096  # PATH_MAX bytes in no encoding, as os.fsdecode gives them
    write_repro(reduction, tmp_path / "repro", origin=origin, command="verify reduce")
    meta = read_meta(tmp_path / "repro")
    # The cap is the writer's worst with room to spare, not a bound that lets a file of numbers grow the
    # reader's peak tenfold (4 MiB read 3 MB of numbers at 75 MB).
    assert (tmp_path / "repro" / "check.json").stat().st_size * 2 > guarded.MAX_REPRO_META_BYTES
    assert meta["origin"] == "\\udcff" * 4096
    assert meta["diverging_layer"]["module"].startswith("\U0001f600" * 100)


def test_a_repro_of_a_file_named_in_no_encoding_is_written_with_the_name_escaped(tmp_path, model):
    # It raised UnicodeEncodeError writing README.md: argv holds such a name as lone surrogates.
    from verifier.checks.diagnose.reduce import Reduction
    from verifier.checks.diagnose.repro import read_meta, write_repro

    doc = json.loads(model.read_text())
    reduction = Reduction("validate", doc, (0, 1), 1, 0, 0, "float32", rule="RTN-E106", message="unknown")
    write_repro(
        reduction, tmp_path / "repro", origin="caf\udce9.json", command="verify reduce caf\udce9.json"
    )
    assert "caf\\udce9.json" in (tmp_path / "repro" / "README.md").read_text(encoding="utf-8")
    assert read_meta(tmp_path / "repro")["origin"] == "caf\\udce9.json"


def test_expected_outputs_of_another_length_are_a_usage_error_not_a_reproduction(repro):
    (repro / "expected.csv").write_text("0,0,0,0\n" * 3)
    with pytest.raises(ReproError, match=r"3 rows, inputs\.csv has 4"):
        replay(repro)


# --- golden bundles ------------------------------------------------------------------------------------


@pytest.fixture
def bundle(tmp_path, model) -> Path:
    return write_bundle(model, tmp_path / "bundle", tolerance=lambda dtype: (1e-5, 0.0), steps=8)


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("tolerance.float32.atol", "inf", "tolerance.float32.atol: expected a finite number"),
        ("tolerance.float64.rtol", "nan", "tolerance.float64.rtol: expected a finite number"),
        ("tolerance.float32.atol", "-1", "tolerance.float32.atol: expected a finite number"),
        ("in_size", "1" + "0" * 20, "in_size: expected a whole number from 1 to 65536"),
        ("case.random.steps", "1" + "0" * 12, "case.random.steps: expected a whole number"),
        ("cases", "../../x", "is not a case name"),
    ],
    ids=["inf-atol", "nan-rtol", "negative-atol", "huge-in-size", "huge-steps", "case-path"],
)
def test_a_golden_index_value_no_check_can_act_on_is_refused(bundle, key, value, said):
    index = bundle / "index.txt"
    lines = [
        f"{key}={value}" if line.startswith(f"{key}=") else line for line in index.read_text().splitlines()
    ]
    index.write_text("\n".join(lines) + "\n")
    with pytest.raises(GoldenError, match=said.replace(".", r"\.")):
        read_bundle(bundle)


def test_a_golden_index_that_is_a_fifo_is_refused_not_waited_on(tmp_path, bundle):
    (bundle / "index.txt").unlink()
    os.mkfifo(bundle / "index.txt")
    code = "import sys\nfrom verifier.checks.golden.bundles import read_bundle\nread_bundle(sys.argv[1])"
    done = run_child(bundle, cwd=tmp_path, python=["-c", code])
    assert "GoldenError" in done.stderr, done.stderr[-2000:]
    assert "a FIFO" in done.stderr


# --- outputs: never over an input, never into a FIFO -------------------------------------------------


def test_output_to_a_fifo_is_refused_not_waited_on(tmp_path, model, fifo):
    done = run_child("validate", model, "-o", fifo, cwd=tmp_path)
    usage_error(done, str(fifo), "a FIFO")


@pytest.mark.parametrize("how", ["same", "dotdot", "symlink", "hardlink"])
@pytest.mark.parametrize("command", ["validate", "inspect", "verify"])
def test_output_onto_an_input_is_refused_and_the_input_kept(capsys, tmp_path, model, how, command):
    (tmp_path / "sub").mkdir()
    output = {
        "same": model,
        "dotdot": tmp_path / "sub" / ".." / model.name,
        "symlink": tmp_path / "link.json",
        "hardlink": tmp_path / "hard.json",
    }[how]
    if how == "symlink":
        output.symlink_to(model)
    elif how == "hardlink":
        os.link(model, output)
    before = model.read_bytes()
    argv = [model, "-o", output, *FAST] if command == "verify" else [command, model, "-o", output]
    code, _, err = verify(capsys, *argv)
    assert code == 2
    assert "is an input of this run" in err
    assert model.read_bytes() == before


def test_output_onto_the_manifest_is_refused_before_the_run(capsys, tmp_path, model):
    manifest = _manifest(tmp_path, model)
    before = manifest.read_bytes()
    code, _, err = verify(capsys, model, "--manifest", manifest, "-o", manifest, "--no-timing")
    assert code == 2
    assert "is an input of this run" in err
    assert manifest.read_bytes() == before


def test_reduce_into_the_folder_of_its_input_is_refused_and_the_model_kept(tmp_path, model):
    before = model.read_bytes()
    done = run_child("reduce", model.name, "--against", "wrongmodule:build", "-o", ".", cwd=tmp_path)
    usage_error(done, "model.json")
    assert model.read_bytes() == before


def test_embed_golden_does_not_replace_an_unrelated_file_of_the_same_name(capsys, tmp_path, model):
    out = tmp_path / "out"
    out.mkdir()
    stranger = out / model.name
    stranger.write_text('{"in_shape": [null, 1], "layers": []}')
    code, _, err = verify(capsys, model, "--embed-golden", out, *FAST)
    assert code == 2
    assert "not an earlier golden copy" in err
    assert stranger.read_text() == '{"in_shape": [null, 1], "layers": []}'


def test_embed_golden_replaces_its_own_earlier_copy(capsys, tmp_path, model):
    out = tmp_path / "out"
    assert verify(capsys, model, "--embed-golden", out, *FAST)[0] == 0
    code, _, err = verify(capsys, model, "--embed-golden", out, "--seed", "1", *FAST)
    assert code == 0, err


def test_save_golden_onto_an_existing_file_is_a_usage_error(capsys, tmp_path, model):
    occupied = tmp_path / "occupied"
    occupied.write_text("mine")
    code, _, err = verify(capsys, model, "--save-golden", occupied, *FAST)
    assert code == 2
    assert "exists and is not a directory" in err
    assert occupied.read_text() == "mine"


# --- counts and references given on the command line ---------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--timing-steps", str(10**12)], "--timing-steps"),
        (["--steps", str(10**7)], "--steps"),
        (["--jobs", str(10**6)], "--jobs"),
        (["--seed", str(2**64)], "--seed"),
        (["--rss-copies", str(10**9)], "--rss-copies"),
        (["--steps", "1" * 5000], "--steps"),
        (["--atol", "1e400"], "--atol"),
        (["--rtol", "nan"], "--rtol"),
        (["--against", ":"], "--against"),
        (["--against", "a" * 300 + ":f"], "--against"),
        (["--against", "mod:"], "--against"),
    ],
    ids=[
        "timing-steps-1e12",
        "steps-1e7",
        "jobs-1e6",
        "seed-2^64",
        "rss-copies-1e9",
        "steps-5000-digits",
        "atol-inf",
        "rtol-nan",
        "against-colon",
        "against-300-chars",
        "against-no-factory",
    ],
)
def test_a_count_or_reference_no_run_can_act_on_is_a_usage_error(tmp_path, model, argv, said):
    # A child: before the bound, --steps 10^7 took 1.2 GB and minutes.
    done = run_child(model, *argv, "--no-manifest", "--no-timing", "--rss-copies", "0", cwd=tmp_path)
    usage_error(done, said)
    assert done.stdout == ""


def test_reduce_bounds_its_counts_as_verify_does(capsys, model):
    code, _, err = verify(capsys, "reduce", model, "--against", ":", "-o", "x", "--steps", str(10**7))
    assert code == 2
    assert "--against" in err or "--steps" in err


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1.0, True, "1e-5", 10**400])
def test_a_tolerance_is_a_finite_number_at_least_zero(value):
    assert not is_tolerance(value)


def test_a_step_summary_that_is_a_fifo_is_refused_not_waited_on(tmp_path, model, fifo, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(fifo))
    done = run_child(model, "--format", "github", *FAST, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"{fifo}: /: $GITHUB_STEP_SUMMARY is a FIFO" in done.stderr


def test_a_step_summary_that_is_an_input_is_refused_before_the_run(capsys, tmp_path, model, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(model))
    before = model.read_bytes()
    code, out, err = verify(capsys, model, "--format", "github", *FAST)
    assert code == 2
    assert out == ""
    assert "$GITHUB_STEP_SUMMARY is an input of this run" in err
    assert model.read_bytes() == before


@pytest.mark.parametrize(
    "argv",
    [["--verify-steps", str(10**7)], ["--verify-steps", "-1"], ["--verify-rss-copies", str(10**9)]],
    ids=["steps-1e7", "steps-negative", "rss-copies-1e9"],
)
def test_the_pytest_plugin_bounds_its_counts_as_verify_does(tmp_path, argv):
    (tmp_path / "test_unit.py").write_text("def test_one():\n    pass\n")
    done = run_child("-p", "no:cacheprovider", *argv, cwd=tmp_path, module="pytest")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:] + done.stderr[-2000:]
    assert argv[0] in done.stderr


def test_a_report_written_in_pieces_leaves_nothing_behind_when_making_a_piece_fails(tmp_path):
    def pieces():
        yield "first part\n"
        raise ValueError("a piece could not be made")

    target = tmp_path / "out.txt"
    with pytest.raises(ValueError, match="could not be made"):
        write_file(target, pieces())
    assert list(tmp_path.iterdir()) == []  # neither the target nor its staging file


def test_a_report_in_pieces_is_written_whole(tmp_path):
    target = tmp_path / "out.txt"
    write_file(target, (f"line {i}\n" for i in range(3)))
    assert target.read_text() == "line 0\nline 1\nline 2\n"
