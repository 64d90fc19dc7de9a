"""Golden data on the Python side: bundles (``verify --save-golden``), embedded golden data
(``input_batch``/``output_batch``: ``verify --embed-golden`` and the ``embedded`` reference), where the C++
checker is, and ``verify --backend``.

The C++ checker itself is built and run in tests/test_golden_cpp.py.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cpp_build import skip_or_fail
from torch import nn

from verifier.checks.golden.bundles import (
    FORMAT_VERSION,
    GoldenError,
    golden_inputs,
    read_bundle,
    write_bundle,
)
from verifier.cli import main
from verifier.pytorch.export import export

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--no-timing", "--rss-copies", "0", "--no-manifest"]


def verify(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


class Recurrent(nn.Module):
    def __init__(self, width_in: int = 4, width_out: int = 3) -> None:
        super().__init__()
        torch.manual_seed(11)
        self.fc = nn.Linear(width_in, 5)
        self.act = nn.Tanh()
        self.lstm = nn.LSTM(5, 4, batch_first=True)
        self.out = nn.Linear(4, width_out)
        self.export_order = ("fc", "act", "lstm", "out")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.lstm(self.act(self.fc(x)))[0])


@pytest.fixture
def recurrent(tmp_path: Path) -> tuple[nn.Module, Path, Path]:
    """A model with state, its export and its saved module (for --against)."""
    module = Recurrent().eval()
    path = tmp_path / "models" / "recurrent.json"
    path.parent.mkdir()
    export(module, path)
    checkpoint = tmp_path / "recurrent.pt"
    torch.save(module, checkpoint)
    return module, path, checkpoint


def _torch_stream(module: nn.Module, xs: np.ndarray) -> np.ndarray:
    """The module on one sequence from zero state, in float64, straight from torch."""
    with torch.no_grad():
        return copy.deepcopy(module).double()(torch.as_tensor(xs)[None])[0].numpy()


def _torch_frames(module: nn.Module, xs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return copy.deepcopy(module).double()(torch.as_tensor(xs)[:, None, :])[:, 0].numpy()


def _tolerance(dtype: str) -> tuple[float, float]:
    return {"float32": (1e-5, 0.0), "float64": (1e-9, 0.0)}[dtype]


# ---------------------------------------------------------------------------------------------- bundles


def test_the_cpp_header_reads_the_format_version_python_writes() -> None:
    header = (ROOT / "verifier/cpp/include/rtneural_verifier/golden.hpp").read_text()
    found = re.search(r"constexpr int kGoldenFormatVersion = (\d+);", header)
    assert found is not None
    assert int(found.group(1)) == FORMAT_VERSION


def test_golden_inputs_are_exact_float32_values_with_the_fixed_cases() -> None:
    cases = golden_inputs(3, 100, seed=5)
    assert list(cases) == ["random", "zeros", "plus_one", "minus_one", "impulse"]
    random = cases["random"]
    assert random.shape == (100, 3)
    assert np.array_equal(random, random.astype(np.float32).astype(np.float64))
    assert np.all(np.abs(random) <= 1.0)
    assert cases["impulse"].shape == (32, 3)
    assert np.array_equal(cases["impulse"][0], np.ones(3))
    assert not cases["impulse"][1:].any()
    assert np.array_equal(cases["minus_one"], -np.ones((32, 3)))


def test_a_bundle_holds_torchs_outputs_for_both_call_patterns(recurrent, tmp_path: Path) -> None:
    module, path, _ = recurrent
    bundle = read_bundle(
        write_bundle(path, tmp_path / "b", torch_module=module, tolerance=_tolerance, steps=40)
    )
    assert bundle.reference == "torch"
    for case, xs in bundle.inputs.items():
        assert np.allclose(bundle.expected[case, "stream"], _torch_stream(module, xs), rtol=0, atol=1e-12)
        assert np.allclose(bundle.expected[case, "frame"], _torch_frames(module, xs), rtol=0, atol=1e-12)
    # State matters for this model, so the two patterns differ: a bundle that mixed them up would show it.
    assert not np.allclose(bundle.expected["random", "stream"], bundle.expected["random", "frame"])
    assert bundle.tolerance("float32") == (1e-5, 0.0)


def test_a_bundle_records_the_files_sha256_and_sizes(recurrent, tmp_path: Path) -> None:
    import hashlib

    module, path, _ = recurrent
    bundle = read_bundle(write_bundle(path, tmp_path / "b", torch_module=module, tolerance=_tolerance))
    assert bundle.index["model_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (bundle.index["in_size"], bundle.index["out_size"]) == ("4", "3")
    assert bundle.index["format"] == "rtneural-verifier-golden"
    assert (bundle.directory / "README.md").read_text().startswith("# Golden bundle: recurrent.json")


def test_without_a_torch_module_the_bundle_says_it_comes_from_the_engine(recurrent, tmp_path: Path) -> None:
    module, path, _ = recurrent
    bundle = read_bundle(write_bundle(path, tmp_path / "b", tolerance=_tolerance, steps=16))
    assert bundle.reference == "engine-float64"
    assert "engine in float64" in (bundle.directory / "README.md").read_text()
    # Still the model's numbers: the engine in float64 agrees with torch to round-off.
    xs = bundle.inputs["random"]
    assert np.allclose(bundle.expected["random", "stream"], _torch_stream(module, xs), rtol=0, atol=1e-12)


def test_a_directory_that_is_not_a_bundle_is_never_overwritten(recurrent, tmp_path: Path) -> None:
    _, path, _ = recurrent
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(GoldenError, match="not a golden bundle"):
        write_bundle(path, target, tolerance=_tolerance)
    assert (target / "notes.txt").read_text() == "mine"


def test_an_earlier_bundle_is_replaced_whole(recurrent, tmp_path: Path) -> None:
    _, path, _ = recurrent
    target = write_bundle(path, tmp_path / "b", tolerance=_tolerance, steps=8)
    (target / "inputs" / "stale.csv").write_text("1\n")
    write_bundle(path, target, tolerance=_tolerance, steps=12)
    assert not (target / "inputs" / "stale.csv").exists()
    assert read_bundle(target).inputs["random"].shape == (12, 4)


def test_save_golden_writes_one_bundle_per_file_from_against(capsys, recurrent, tmp_path: Path) -> None:
    module, path, checkpoint = recurrent
    code, out, err = verify(
        capsys, path, "--against", checkpoint, "--save-golden", tmp_path / "golden", "--steps", "20", *FAST
    )
    assert code == 0, err
    bundle = read_bundle(tmp_path / "golden" / "recurrent")
    assert bundle.reference == "torch"
    assert bundle.index["reference_source"] == str(checkpoint)
    assert np.allclose(
        bundle.expected["random", "stream"], _torch_stream(module, bundle.inputs["random"]), atol=1e-12
    )
    assert f"bundle {tmp_path / 'golden' / 'recurrent'} from torch module" in out


def test_save_golden_reports_a_file_that_does_not_load_and_writes_the_others(
    capsys, recurrent, tmp_path: Path
) -> None:
    _, path, _ = recurrent
    broken = tmp_path / "broken.json"
    broken.write_text('{"in_shape": [null, 4], "layers": []}')
    code, _, err = verify(capsys, path, broken, "--save-golden", tmp_path / "golden", *FAST)
    assert code == 1
    assert f"{broken}: not written: ModelFormatError" in err
    assert (tmp_path / "golden" / "recurrent" / "index.txt").is_file()
    assert not (tmp_path / "golden" / "broken").exists()


def test_two_files_with_one_stem_are_a_usage_error(capsys, recurrent, tmp_path: Path) -> None:
    _, path, _ = recurrent
    other = tmp_path / "elsewhere" / "recurrent.json"
    other.parent.mkdir()
    other.write_bytes(path.read_bytes())
    code, _, err = verify(capsys, path, other, "--save-golden", tmp_path / "golden", *FAST)
    assert code == 2
    assert "would both be written to" in err


# ---------------------------------------------------------------------------------------- embedded data


def test_embed_golden_writes_a_copy_and_leaves_the_input_alone(capsys, recurrent, tmp_path: Path) -> None:
    module, path, checkpoint = recurrent
    before = path.read_bytes()
    code, _, err = verify(capsys, path, "--against", checkpoint, "--embed-golden", tmp_path / "out", *FAST)
    assert code == 0, err
    assert path.read_bytes() == before
    doc = json.loads((tmp_path / "out" / "recurrent.json").read_text())
    xs, ys = np.array(doc["input_batch"]), np.array(doc["output_batch"])
    assert xs.shape == (256, 4)
    assert np.allclose(ys, _torch_stream(module, xs), rtol=0, atol=1e-12)
    assert doc["layers"] == json.loads(before)["layers"]


def test_embed_golden_into_the_inputs_own_directory_is_refused(capsys, recurrent) -> None:
    _, path, _ = recurrent
    before = path.read_bytes()
    code, _, err = verify(capsys, path, "--embed-golden", path.parent, *FAST)
    assert code == 2  # a usage error, found before anything is computed
    assert "is an input of this run" in err
    assert path.read_bytes() == before


def test_a_file_with_embedded_data_is_checked_against_it_without_torch(
    capsys, recurrent, tmp_path: Path
) -> None:
    _, path, checkpoint = recurrent
    verify(capsys, path, "--against", checkpoint, "--embed-golden", tmp_path / "out", *FAST)
    report = tmp_path / "report.json"
    code, _, _ = verify(capsys, tmp_path / "out" / "recurrent.json", "--format", "json", "-o", report, *FAST)
    assert code == 0
    checks = {c["name"]: c for c in json.loads(report.read_text())["files"][0]["checks"]}
    assert checks["numeric-stream"]["figures"]["reference"] == "embedded"
    assert checks["numeric-frame"]["figures"]["reference"] == "json-rebuild"
    assert json.loads(report.read_text())["files"][0]["reference"]["kind"] == "embedded"
    assert "output_batch" in checks["numeric-stream"]["summary"]


def test_a_wrong_embedded_output_fails_numeric_stream(capsys, recurrent, tmp_path: Path) -> None:
    _, path, checkpoint = recurrent
    verify(capsys, path, "--against", checkpoint, "--embed-golden", tmp_path / "out", *FAST)
    copy = tmp_path / "out" / "recurrent.json"
    doc = json.loads(copy.read_text())
    doc["output_batch"][17][2] += 1e-3
    copy.write_text(json.dumps(doc))
    code, out, _ = verify(capsys, copy, *FAST)
    assert code == 1
    line = next(line for line in out.splitlines() if "numeric-stream" in line)
    assert "FAIL" in line
    assert "[17, 2]" in line


def test_malformed_embedded_data_is_a_failing_check_naming_the_pointer(
    capsys, recurrent, tmp_path: Path
) -> None:
    _, path, _ = recurrent
    doc = json.loads(path.read_text())
    doc["input_batch"] = [[0.0] * 4] * 3
    doc["output_batch"] = [[0.0] * 3] * 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, out, _ = verify(capsys, bad, *FAST)
    assert code == 1
    line = next(line for line in out.splitlines() if "numeric-frame" in line)
    assert "/output_batch" in line
    assert "not one output per input step" in line


def _width_one(tmp_path: Path) -> tuple[nn.Module, Path]:
    torch.manual_seed(2)
    module = nn.Sequential(nn.Linear(1, 6), nn.Tanh(), nn.Linear(6, 1)).eval()
    path = tmp_path / "amp.json"
    export(module, path)
    return module, path


def test_width_one_models_get_flat_lists_as_aida_x_writes_them(capsys, tmp_path: Path) -> None:
    module, path = _width_one(tmp_path)
    torch.save(module, tmp_path / "amp.pt")
    verify(
        capsys,
        path,
        "--against",
        tmp_path / "amp.pt",
        "--embed-golden",
        tmp_path / "out",
        "--steps",
        "50",
        *FAST,
    )
    doc = json.loads((tmp_path / "out" / "amp.json").read_text())
    assert len(doc["input_batch"]) == 50
    assert all(isinstance(v, float) for v in doc["input_batch"] + doc["output_batch"])
    code, _, _ = verify(capsys, tmp_path / "out" / "amp.json", *FAST)
    assert code == 0


def test_in_skip_means_the_recorded_output_includes_the_input(capsys, tmp_path: Path) -> None:
    module, path = _width_one(tmp_path)
    xs = np.linspace(-1, 1, 40)[:, None]
    network = _torch_stream(module, xs)
    doc = json.loads(path.read_text())
    doc.update(in_skip=1, input_batch=xs[:, 0].tolist(), output_batch=(network + xs)[:, 0].tolist())
    with_skip = tmp_path / "with_skip.json"
    with_skip.write_text(json.dumps(doc))
    assert verify(capsys, with_skip, *FAST)[0] == 0
    doc["in_skip"] = 0  # the same numbers read as the network's own output are wrong by the input
    without = tmp_path / "without_skip.json"
    without.write_text(json.dumps(doc))
    assert verify(capsys, without, *FAST)[0] == 1


# --------------------------------------------------------------------------------------- the C++ paths


@pytest.mark.parametrize(
    ("option", "inside"),
    [("--includedir", "rtneural_verifier/golden.hpp"), ("--cmakedir", "rtneural_verifierConfig.cmake")],
)
def test_python_dash_m_verifier_cpp_prints_existing_directories(
    option: str, inside: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "verifier.cpp", option],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert (Path(done.stdout.strip()) / inside).is_file()


# --------------------------------------------------------------------------------------------- backends


def test_backend_rtneural_when_not_built_is_a_usage_error(capsys, recurrent, monkeypatch) -> None:
    from verifier.engine import backends

    monkeypatch.setattr(backends, "_rtneural_module", lambda: None)
    _, path, _ = recurrent
    code, _, err = verify(capsys, path, "--backend", "rtneural", *FAST)
    assert code == 2
    assert "--backend rtneural: the RTNeural backend" in err
    assert "is not built" in err


def test_backend_rtneural_runs_every_runtime_check_on_rtneural(capsys, recurrent, tmp_path: Path) -> None:
    from verifier.engine.backends import available_backends

    if "rtneural" not in available_backends():
        skip_or_fail("RTNeural backend not built: install with RTNEURAL_DIR=/path/to/RTNeural")
    _, path, checkpoint = recurrent
    report = tmp_path / "report.json"
    argv = [
        path,
        "--against",
        checkpoint,
        "--backend",
        "rtneural",
        "--timing-steps",
        "50",
        "--format",
        "json",
    ]
    code, _, _ = verify(capsys, *argv, "-o", report, "--no-manifest")
    data = json.loads(report.read_text())
    assert code == 0
    assert data["tool"]["backend"].startswith("RTNeural (")
    assert data["settings"]["backend"] == "rtneural"
    checks = {c["name"]: c for c in data["files"][0]["checks"]}
    assert checks["load"]["figures"]["backend"] == "rtneural"
    assert checks["load"]["figures"]["build"] == data["tool"]["backend"]
    assert data["tool"]["backend"] in checks["load"]["summary"]
    assert "held by RTNeural's heap" in checks["memory"]["summary"]
    assert checks["memory"]["figures"]["bytes_held"] >= checks["memory"]["figures"]["weight_bytes"]
    assert checks["latency"]["status"] == "pass"
