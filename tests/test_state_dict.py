"""GuitarML state_dict files (Proteus, NeuralPi): read, checked against model_data, run as the plugin runs
them, and converted to keras-json. Every file is generated here from a seeded torch module."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from verifier.format.inspect import inspect  # noqa: E402
from verifier.format.validate import validate  # noqa: E402

CASES = [("LSTM", 1, 20, 0), ("LSTM", 1, 40, 1), ("LSTM", 3, 40, 1), ("GRU", 1, 20, 1), ("GRU", 2, 20, 0)]


def modules(unit: str, inputs: int, hidden: int, seed: int = 0) -> tuple[Any, Any]:
    torch.manual_seed(seed)
    rec = (torch.nn.LSTM if unit == "LSTM" else torch.nn.GRU)(inputs, hidden, batch_first=True)
    return rec.double(), torch.nn.Linear(hidden, 1).double()


def simple_rnn(unit: str, inputs: int, hidden: int, skip: int, xs: np.ndarray, seed: int = 0) -> np.ndarray:
    """What GuitarML's SimpleRNN computes on one sequence xs [T, inputs], from the seeded modules."""
    rec, lin = modules(unit, inputs, hidden, seed)
    x = torch.as_tensor(xs, dtype=torch.float64)[None]
    with torch.no_grad():
        y = lin(rec(x)[0]) + (x[..., :1] if skip else 0.0)
    return y[0].numpy()


def guitarml(unit: str, inputs: int, hidden: int, skip: int, seed: int = 0) -> dict[str, Any]:
    """The document GuitarML's training scripts write for SimpleRNN(unit, inputs, hidden, skip)."""
    rec, lin = modules(unit, inputs, hidden, seed)
    state = {f"rec.{k}": v.tolist() for k, v in rec.state_dict().items()}
    state.update({f"lin.{k}": v.tolist() for k, v in lin.state_dict().items()})
    data = {
        "model": "SimpleRNN",
        "unit_type": unit,
        "input_size": inputs,
        "hidden_size": hidden,
        "output_size": 1,
        "num_layers": 1,
        "skip": skip,
        "bias_fl": True,
    }
    return {"model_data": data, "state_dict": state}


def write(tmp_path: Path, doc: dict[str, Any], name: str = "model.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def places(findings: list[Any]) -> set[tuple[str, str]]:
    return {(f.rule, f.pointer) for f in findings if f.severity == "error"}


# --- reading and checking -------------------------------------------------------------------------------


@pytest.mark.parametrize(("unit", "inputs", "hidden", "skip"), CASES)
def test_a_guitarml_file_written_from_torch_modules_has_no_finding(tmp_path, unit, inputs, hidden, skip):
    assert validate(write(tmp_path, guitarml(unit, inputs, hidden, skip))) == []


def test_a_hidden_size_that_contradicts_every_array_is_reported_at_model_data(tmp_path):
    doc = guitarml("LSTM", 1, 40, 1)
    doc["model_data"]["hidden_size"] = 20
    found = validate(write(tmp_path, doc))
    assert places(found) == {("RTN-E404", "/model_data/hidden_size")}
    assert (found[0].expected, found[0].found) == ("40", "20")


def test_a_unit_type_that_contradicts_the_gate_count_is_reported_at_model_data(tmp_path):
    doc = guitarml("GRU", 1, 20, 0)
    doc["model_data"]["unit_type"] = "LSTM"
    assert places(validate(write(tmp_path, doc))) == {("RTN-E404", "/model_data/unit_type")}


def test_one_array_of_the_wrong_shape_is_reported_at_that_array(tmp_path):
    doc = guitarml("GRU", 2, 20, 0)
    doc["state_dict"]["lin.weight"] = [[0.5] * 21]
    found = validate(write(tmp_path, doc))
    assert places(found) == {("RTN-E404", "/state_dict/lin.weight")}
    assert (found[0].expected, found[0].found) == ("[1][20]", "[1][21]")


def test_an_input_size_that_contradicts_weight_ih_is_a_finding(tmp_path):
    doc = guitarml("LSTM", 3, 20, 1)
    doc["model_data"]["input_size"] = 1
    assert places(validate(write(tmp_path, doc))) == {("RTN-E404", "/model_data/input_size")}


def test_a_ragged_state_dict_array_is_a_shape_finding_at_its_row(tmp_path):
    doc = guitarml("LSTM", 1, 20, 0)
    doc["state_dict"]["rec.weight_hh_l0"][5] = [0.0] * 19
    found = places(validate(write(tmp_path, doc)))
    assert len(found) == 1
    assert next(iter(found))[1].startswith("/state_dict/rec.weight_hh_l0")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["model_data"].update(unit_type="RNN"), ("RTN-E403", "/model_data/unit_type")),
        (lambda d: d["model_data"].update(model="WaveNet"), ("RTN-E403", "/model_data/model")),
        (lambda d: d["model_data"].update(num_layers=2), ("RTN-E403", "/model_data/num_layers")),
        (lambda d: d["model_data"].update(skip=2), ("RTN-E403", "/model_data/skip")),
        (lambda d: d["model_data"].update(hidden_size=0), ("RTN-E403", "/model_data/hidden_size")),
        (lambda d: d["model_data"].pop("skip"), ("RTN-E401", "/model_data/skip")),
        (lambda d: d["state_dict"].pop("rec.bias_hh_l0"), ("RTN-E401", "/state_dict/rec.bias_hh_l0")),
        (lambda d: d.pop("state_dict"), ("RTN-E401", "/state_dict")),
        (lambda d: d["model_data"].update(hidden_size="20"), ("RTN-E402", "/model_data/hidden_size")),
        (lambda d: d["model_data"].update(skip=True), ("RTN-E402", "/model_data/skip")),
        (lambda d: d["state_dict"].update({"lin.bias": 0.1}), ("RTN-E402", "/state_dict/lin.bias")),
        (lambda d: d["state_dict"]["lin.bias"].append("x"), ("RTN-E402", "/state_dict/lin.bias/1")),
        (lambda d: d["model_data"].update(hidden_size=10**6), ("RTN-E303", "/model_data/hidden_size")),
        (lambda d: d["state_dict"]["lin.bias"].__setitem__(0, 1e39), ("RTN-E208", "/state_dict/lin.bias/0")),
    ],
)
def test_what_the_plugins_cannot_build_is_a_finding_at_its_pointer(tmp_path, edit, expected):
    doc = guitarml("LSTM", 1, 20, 1)
    edit(doc)
    assert expected in places(validate(write(tmp_path, doc)))


def test_inspect_shows_the_layers_the_plugin_builds_and_the_skip_it_adds(tmp_path):
    seen = inspect(write(tmp_path, guitarml("LSTM", 2, 40, 1)))
    assert seen.readable
    assert (seen.in_width, seen.out_width) == (2, 1)
    assert [(r.type, r.in_width, r.out_width) for r in seen.rows] == [("lstm", 2, 40), ("dense", 40, 1)]
    assert [k.pointer for k in seen.extra_keys] == ["/model_data/skip"]


def test_inspect_of_a_broken_guitarml_file_lists_its_findings(tmp_path):
    doc = guitarml("GRU", 1, 20, 0)
    doc["model_data"]["unit_type"] = "RNN"
    seen = inspect(write(tmp_path, doc))
    assert not seen.readable
    assert ("RTN-E403", "/model_data/unit_type") in places(list(seen.findings))


# --- what the plugin computes ---------------------------------------------------------------------------


def inputs(steps: int, width: int) -> np.ndarray:
    return np.random.default_rng(7).uniform(-1.0, 1.0, (steps, width))


@pytest.mark.parametrize(("unit", "inputs_", "hidden", "skip"), CASES)
def test_the_engine_streams_what_simple_rnn_computes_including_the_skip(
    tmp_path, unit, inputs_, hidden, skip
):
    import verifier

    xs = inputs(300, inputs_)
    model = verifier.load(write(tmp_path, guitarml(unit, inputs_, hidden, skip)), "float64")
    worst = float(np.abs(model.run(xs) - simple_rnn(unit, inputs_, hidden, skip, xs)).max())
    print(f"{unit} in={inputs_} hidden={hidden} skip={skip}: worst |engine - torch| = {worst:.3g}")
    assert worst < 1e-12


def test_the_skip_adds_input_0_to_each_step_and_each_frame(tmp_path):
    import verifier

    xs = inputs(50, 3)
    with_skip = verifier.load(write(tmp_path, guitarml("GRU", 3, 20, 1), "a.json"), "float64")
    without = verifier.load(write(tmp_path, guitarml("GRU", 3, 20, 0), "b.json"), "float64")
    np.testing.assert_allclose(with_skip.run(xs) - without.run(xs), xs[:, :1], atol=1e-12)
    np.testing.assert_allclose(with_skip.run_frames(xs) - without.run_frames(xs), xs[:, :1], atol=1e-12)
    np.testing.assert_allclose(with_skip.forward(xs[0]) - without.forward(xs[0]), xs[0, :1], atol=1e-12)


def test_the_pytorch_reference_of_a_state_dict_file_is_simple_rnn(tmp_path):
    import verifier

    xs = inputs(100, 2)
    rebuilt = verifier.reference(write(tmp_path, guitarml("LSTM", 2, 40, 1)))
    np.testing.assert_allclose(rebuilt(xs).numpy(), simple_rnn("LSTM", 2, 40, 1, xs), atol=1e-12)


def test_load_refuses_a_state_dict_file_with_the_rule_and_pointer_validate_reports(tmp_path):
    import verifier
    from verifier.errors import ModelFormatError

    doc = guitarml("LSTM", 1, 40, 1)
    doc["model_data"]["hidden_size"] = 20
    with pytest.raises(ModelFormatError) as caught:
        verifier.load(write(tmp_path, doc))
    assert (caught.value.rule, caught.value.pointer) == ("RTN-E404", "/model_data/hidden_size")


def test_verify_checks_a_state_dict_file_against_its_pytorch_modules_without_a_factory(tmp_path):
    from verifier.checks.run.verify import verify_file

    result = verify_file(write(tmp_path, guitarml("LSTM", 1, 20, 1)), measure_rss=False)
    statuses = {check.name: check.status for check in result.checks}
    assert result.reference["kind"] == "state-dict"
    assert statuses["numeric-frame"] == statuses["numeric-stream"] == "pass"
    assert statuses["validate"] == statuses["load"] == statuses["rtneural-builds"] == "pass"


# --- convert --------------------------------------------------------------------------------------------


def convert(*argv: str) -> int:
    from verifier.cli import main

    return main(["convert", *argv])


@pytest.mark.parametrize(("unit", "inputs_", "hidden", "skip"), CASES)
def test_the_converted_keras_json_plus_the_skip_computes_simple_rnn(tmp_path, unit, inputs_, hidden, skip):
    import verifier

    source = write(tmp_path, guitarml(unit, inputs_, hidden, skip))
    assert convert(source, "--to", "keras-json", "-o", str(tmp_path / "out.json")) == 0
    converted = str(tmp_path / "out.json")
    assert validate(converted) == []
    xs = inputs(200, inputs_)
    engine = verifier.load(converted, "float64").run(xs) + (xs[:, :1] if skip else 0.0)
    np.testing.assert_allclose(engine, simple_rnn(unit, inputs_, hidden, skip, xs), atol=1e-12)


@pytest.mark.parametrize(("unit", "inputs_", "hidden", "skip"), CASES)
def test_real_rtneural_loads_the_converted_keras_json_to_simple_rnn(tmp_path, unit, inputs_, hidden, skip):
    pytest.importorskip("_verifier_rtneural")
    from verifier.engine.backends import load_backend

    source = write(tmp_path, guitarml(unit, inputs_, hidden, skip))
    assert convert(source, "--to", "keras-json", "-o", str(tmp_path / "out.json")) == 0
    xs = inputs(200, inputs_)
    rtneural = load_backend(str(tmp_path / "out.json"), "rtneural", "float64").run(xs)
    worst = float(
        np.abs(rtneural + (xs[:, :1] if skip else 0.0) - simple_rnn(unit, inputs_, hidden, skip, xs)).max()
    )
    print(
        f"RTNeural {unit} in={inputs_} hidden={hidden} skip={skip}: worst |RTNeural + skip - torch| "
        f"= {worst:.3g}"
    )
    assert worst < 1e-12


def test_convert_says_on_stderr_that_the_skip_is_not_carried(tmp_path, capsys):
    for skip in (1, 0):
        source = write(tmp_path, guitarml("LSTM", 1, 20, skip), f"s{skip}.json")
        assert convert(source, "--to", "keras-json", "-o", str(tmp_path / f"o{skip}.json")) == 0
        told = capsys.readouterr().err
        assert ("/model_data/skip is 1" in told) == bool(skip)


def test_convert_never_writes_over_its_input_even_through_a_link(tmp_path, capsys):
    source = write(tmp_path, guitarml("GRU", 1, 20, 1))
    before = Path(source).read_bytes()
    (tmp_path / "link.json").symlink_to(source)
    assert convert(source, "--to", "keras-json", "-o", source) == 2
    assert convert(source, "--to", "keras-json", "-o", str(tmp_path / "link.json")) == 2
    assert Path(source).read_bytes() == before
    assert "not overwriting" in capsys.readouterr().err


def test_convert_of_a_file_with_an_error_writes_nothing_and_names_the_rule(tmp_path, capsys):
    doc = guitarml("LSTM", 1, 20, 0)
    doc["model_data"]["num_layers"] = 2
    out = tmp_path / "out.json"
    assert convert(write(tmp_path, doc), "--to", "keras-json", "-o", str(out)) == 1
    assert not out.exists()
    assert "RTN-E403" in capsys.readouterr().err


def test_convert_refuses_a_file_that_is_not_a_state_dict_file(tmp_path, capsys):
    keras = write(tmp_path, {"in_shape": [None, None, 1], "layers": []})
    assert convert(keras, "--to", "keras-json", "-o", str(tmp_path / "out.json")) == 2
    assert "not a GuitarML state_dict file" in capsys.readouterr().err


@pytest.mark.parametrize(("unit", "inputs_", "hidden", "skip"), CASES)
def test_keras_json_converted_back_to_a_state_dict_computes_simple_rnn_without_the_skip(
    tmp_path, capsys, unit, inputs_, hidden, skip
):
    import verifier

    source = write(tmp_path, guitarml(unit, inputs_, hidden, skip))
    keras, back = str(tmp_path / "keras.json"), str(tmp_path / "back.json")
    assert convert(source, "--to", "keras-json", "-o", keras) == 0
    assert convert(keras, "--to", "state-dict", "-o", back) == 0
    assert "/model_data/skip is 0" in capsys.readouterr().err
    assert validate(back) == []
    xs = inputs(200, inputs_)
    # The PyTorch modules loaded from the written state_dict: none of the conversions' arithmetic.
    torch_out = verifier.reference(back)(xs).numpy()
    np.testing.assert_allclose(torch_out, simple_rnn(unit, inputs_, hidden, 0, xs), atol=1e-12)


@pytest.mark.parametrize("name", ["lstm.json", "gru.json"])
def test_a_keras_json_fixture_converts_to_a_state_dict_computing_the_same(tmp_path, name):
    import verifier

    keras = str(Path(__file__).resolve().parents[1] / "fixtures" / "good" / name)
    back = str(tmp_path / "back.json")
    assert convert(keras, "--to", "state-dict", "-o", back) == 0
    xs = inputs(100, verifier.load(keras).in_size)
    np.testing.assert_allclose(
        verifier.reference(back)(xs).numpy(), verifier.reference(keras)(xs).numpy(), atol=1e-12
    )


@pytest.mark.parametrize(
    ("layers", "pointer"),
    [
        ([("dense", 4, "tanh"), ("lstm", 3, ""), ("dense", 1, "")], "/layers"),
        ([("dense", 3, ""), ("dense", 1, "")], "/layers/0/type"),
        ([("gru", 3, ""), ("dense", 1, "tanh")], "/layers/1/activation"),
    ],
)
def test_convert_to_state_dict_refuses_what_the_format_cannot_hold_at_its_pointer(
    tmp_path, capsys, layers, pointer
):
    from verifier.pytorch.export import export

    modules = {"dense": lambda i, o: torch.nn.Linear(i, o), "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
    width, built = 2, []
    for kind, out, activation in layers:
        built.append(
            modules[kind](width, out) if kind == "dense" else modules[kind](width, out, batch_first=True)
        )
        built += [torch.nn.Tanh()] if activation else []
        width = out
    keras, out = tmp_path / "model.json", tmp_path / "out.json"
    export(torch.nn.Sequential(*built).eval(), str(keras))
    assert convert(str(keras), "--to", "state-dict", "-o", str(out)) == 1
    told = capsys.readouterr().err
    assert f"{keras}:" in told
    assert f": {pointer}: not expressible:" in told
    assert not out.exists()


def test_convert_to_state_dict_of_a_state_dict_file_is_a_usage_error(tmp_path, capsys):
    source = write(tmp_path, guitarml("GRU", 1, 20, 1))
    assert convert(source, "--to", "state-dict", "-o", str(tmp_path / "out.json")) == 2
    assert "already a GuitarML state_dict file" in capsys.readouterr().err


def test_verify_names_the_state_dict_reference_even_when_the_file_does_not_load(tmp_path):
    from verifier.checks.run.verify import verify_file

    doc = guitarml("GRU", 1, 20, 1)
    doc["model_data"]["hidden_size"] = 40
    result = verify_file(write(tmp_path, doc), measure_rss=False)
    assert result.reference["kind"] == "state-dict"
    assert result.checks[0].status == "fail"


def test_verify_on_real_rtneural_adds_the_plugins_skip(tmp_path):
    pytest.importorskip("_verifier_rtneural")
    from verifier.checks.run.options import Options
    from verifier.checks.run.verify import verify_file

    result = verify_file(
        write(tmp_path, guitarml("LSTM", 2, 40, 1)),
        Options(backend="rtneural", timing=False),
        measure_rss=False,
    )
    statuses = {check.name: check.status for check in result.checks}
    assert statuses["load"] == statuses["numeric-frame"] == statuses["numeric-stream"] == "pass"


def test_a_second_layers_weights_are_an_error_and_other_unread_keys_a_warning(tmp_path):
    doc = guitarml("LSTM", 1, 20, 0)
    doc["state_dict"]["rec.weight_ih_l1"] = [[0.0] * 20] * 80
    doc["state_dict"]["lin2.bias"] = [0.0]
    found = {(f.rule, f.pointer) for f in validate(write(tmp_path, doc))}
    assert found == {("RTN-E403", "/state_dict/rec.weight_ih_l1"), ("RTN-W009", "/state_dict/lin2.bias")}


# --- hostile files --------------------------------------------------------------------------------------

HOSTILE = [
    None,
    -1,
    0,
    1.5,
    10**30,
    "x",
    [],
    {},
    True,
    [[1.0]],
    [1.0] * 70,
    [[0.1] * 21] * 70,
    [[1, 2], [3]],
    [[None]],
]
_PLACES = [
    ("model_data", k) for k in ("model", "unit_type", "input_size", "hidden_size", "skip", "num_layers")
]
_PLACES += [
    ("state_dict", k) for k in ("rec.weight_ih_l0", "rec.weight_hh_l0", "rec.bias_hh_l0", "lin.weight")
]
_PLACES += [(None, "model_data"), (None, "state_dict")]


@pytest.mark.parametrize("place", _PLACES, ids=lambda p: "/".join(filter(None, p)))
def test_a_hostile_value_anywhere_is_a_finding_never_a_crash_and_load_agrees_with_validate(tmp_path, place):
    import verifier
    from verifier.errors import ModelFormatError

    outer, key = place
    valid = guitarml("GRU", 1, 20, 1)
    for index, value in enumerate(HOSTILE):
        doc = copy.deepcopy(valid)
        (doc if outer is None else doc[outer])[key] = value
        path = write(tmp_path, doc, f"{index}.json")
        errors = [f for f in validate(path) if f.severity == "error"]
        inspect(path)
        if errors:
            with pytest.raises(ModelFormatError) as caught:
                verifier.load(path)
            assert (caught.value.rule, caught.value.pointer) == (errors[0].rule, errors[0].pointer)
            with pytest.raises(ModelFormatError):
                verifier.reference(path)
        else:
            verifier.load(path)
            verifier.reference(path)
        out = tmp_path / f"{index}.out.json"
        assert convert(path, "--to", "keras-json", "-o", str(out)) == (1 if errors else 0)
        assert out.exists() == (not errors)


@pytest.mark.parametrize(("unit", "inputs_", "hidden", "skip"), [("LSTM", 3, 40, 1), ("GRU", 2, 20, 1)])
def test_save_golden_of_a_state_dict_file_expects_what_simple_rnn_computes(
    tmp_path, capsys, unit, inputs_, hidden, skip
):
    from verifier.checks.golden.bundles import read_bundle
    from verifier.cli import main

    source = write(tmp_path, guitarml(unit, inputs_, hidden, skip))
    assert main([source, "--save-golden", str(tmp_path / "golden")]) == 0
    assert "loaded from the file's state_dict" in capsys.readouterr().out
    bundle = read_bundle(tmp_path / "golden" / "model")
    assert bundle.reference == "state-dict"
    for case, xs in bundle.inputs.items():
        assert (
            np.abs(bundle.expected[case, "stream"] - simple_rnn(unit, inputs_, hidden, skip, xs)).max()
            < 1e-12
        )
        frames = np.concatenate([simple_rnn(unit, inputs_, hidden, skip, x[None]) for x in xs])
        assert np.abs(bundle.expected[case, "frame"] - frames).max() < 1e-12


def test_embed_golden_of_a_state_dict_file_carries_what_simple_rnn_computes(tmp_path, capsys):
    from verifier.cli import main

    source = write(tmp_path, guitarml("GRU", 2, 20, 1))
    assert main([source, "--embed-golden", str(tmp_path / "out")]) == 0
    assert "loaded from the file's state_dict" in capsys.readouterr().out
    copy = json.loads((tmp_path / "out" / "model.json").read_text())
    xs = np.asarray(copy["input_batch"])
    # One output: output_batch is flat, one number per step (AIDA-X's form).
    assert np.abs(np.asarray(copy["output_batch"])[:, None] - simple_rnn("GRU", 2, 20, 1, xs)).max() < 1e-12


def test_a_valid_state_dict_file_is_validated_without_importing_jsonschema(tmp_path):
    import subprocess
    import sys

    source = write(tmp_path, guitarml("GRU", 1, 20, 1))
    code = (
        "import sys; from verifier.format.validate import validate; "
        f"assert validate({source!r}) == []; print('jsonschema' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert ran.stdout.strip() == "False"
