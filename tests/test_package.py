"""The package's shape: a lazy public API, start-up without torch, torch as an extra (the base install
and its light commands work without it), and the checkout usable as it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
GOOD = REPO / "fixtures" / "good" / "mlp.json"
HINT = "pip install 'rtneural-verifier[torch]'"


def _modules_after(code: str) -> set[str]:
    """The heavy modules imported by ``code`` run in a fresh interpreter from the checkout's root."""
    probe = (
        f"{code}\nimport sys\n"
        "heavy = ('torch', 'numpy', '_verifier_engine', 'jsonschema')\n"
        "print('loaded:', *(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300, check=True
    )
    last = done.stdout.splitlines()[-1]
    assert last.startswith("loaded:"), done.stdout
    return set(last.split()[1:])


def test_import_verifier_imports_neither_torch_nor_numpy_nor_the_engine():
    assert _modules_after("import verifier") == set()


def test_verify_help_imports_neither_torch_nor_numpy_nor_the_engine():
    code = "from verifier.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    assert _modules_after(code) == set()


def test_a_validate_only_run_imports_no_torch():
    loaded = _modules_after(f"import verifier\nassert verifier.validate({str(GOOD)!r}) == []")
    assert "torch" not in loaded


def test_a_file_that_conforms_to_the_schema_is_validated_without_importing_jsonschema():
    # The compiled predicate answers for it (verifier.format.schema.predicate): jsonschema's import is saved.
    loaded = _modules_after(f"import verifier\nassert verifier.validate({str(GOOD)!r}) == []")
    assert "jsonschema" not in loaded


def test_a_file_the_schema_rejects_gets_jsonschemas_findings():
    bad = REPO / "fixtures" / "bad" / "conv1d_missing_dilation.json"
    code = (
        f"import verifier\nfound = verifier.validate({str(bad)!r})\n"
        "assert [f.rule for f in found if f.severity == 'error'] == ['RTN-E101'], found"
    )
    assert "jsonschema" in _modules_after(code)


def test_public_names_resolve_to_the_functions_not_their_modules():
    import verifier

    for name in ("export", "validate", "load", "reference", "compare"):
        value = getattr(verifier, name)
        assert callable(value), name
        assert value.__name__ == name
    assert verifier.Finding.__module__ == "verifier.format.findings"


def test_an_unknown_public_name_is_an_attribute_error():
    import verifier

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = verifier.nothing_here  # type: ignore[attr-defined]


def test_python_m_pytest_from_the_checkout_finds_the_compiled_engine():
    """The source tree shadows the installed package; the engine must be importable all the same."""
    done = subprocess.run(
        [sys.executable, "-c", "import verifier.engine.model as m; print(m.__file__)"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(REPO)


def test_the_version_is_written_once():
    import verifier

    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject
    assert f'__version__ = "{verifier.__version__}"' in (REPO / "verifier" / "__init__.py").read_text()


def _project_table() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirements(extra: str | None) -> list[Requirement]:
    """The requirements of the base install (``extra`` None) or of an extra, our own extras expanded."""
    project = _project_table()
    pending = list(project["dependencies"] if extra is None else project["optional-dependencies"][extra])
    found: list[Requirement] = []
    expanded: set[str] = set()
    while pending:
        requirement = Requirement(pending.pop())
        if requirement.name == project["name"]:
            for named in requirement.extras - expanded:
                expanded.add(named)
                pending.extend(project["optional-dependencies"][named])
        else:
            found.append(requirement)
    return found


def test_the_base_install_requires_no_torch():
    names = {r.name for r in _requirements(None)}
    assert "numpy" in names  # the table read is the real one
    assert "torch" not in names


def test_the_torch_extra_requires_torch_with_no_upper_bound():
    # A cap makes every new torch release uninstallable beside us; which build a machine gets is a pin's
    # business (constraints/torch-cpu.txt), not the package's.
    (torch,) = [r for r in _requirements("torch") if r.name == "torch"]
    assert torch.specifier, "a lower bound documents the oldest torch the package works with"
    assert all(spec.operator in (">=", ">", "!=") for spec in torch.specifier), str(torch.specifier)


@pytest.mark.parametrize("extra", ["test", "testing"])
def test_the_extras_that_run_torch_pull_it(extra):
    # `test` is what tox installs: the suite exports with torch; `testing`'s strategies build torch modules.
    installed = _requirements(None) + _requirements(extra)
    assert "torch" in {r.name for r in installed}


# A child interpreter in which torch cannot be imported: what a base install (`pip install
# rtneural-verifier`, the validate hook's environment) is, without building one.
NO_TORCH = """
import sys


class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoTorch())
"""


def _without_torch(command: str, *args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """``command`` ("verify" or "verify-production") as its console script runs it, torch not importable."""
    entry = {"verify": "console_main", "verify-production": "production_main"}[command]
    code = f"{NO_TORCH}\nfrom verifier.cli import {entry}\nsys.exit({entry}())"
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_blocker_really_hides_torch():
    done = subprocess.run(
        [sys.executable, "-c", f"{NO_TORCH}\nimport torch"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    assert "No module named 'torch'" in done.stderr


def test_without_torch_validate_checks_a_file():
    done = _without_torch("verify", "validate", GOOD)
    assert done.returncode == 0, done.stderr
    assert f"{GOOD}: ok" in done.stdout
    bad = REPO / "fixtures" / "bad" / "conv1d_missing_dilation.json"
    done = _without_torch("verify", "validate", bad)
    assert done.returncode == 1, done.stderr
    assert "RTN-E101" in done.stdout


def test_without_torch_inspect_shows_a_file():
    done = _without_torch("verify", "inspect", GOOD)
    assert done.returncode == 0, done.stderr
    assert "2 -> 1, 4 layer(s), 37 parameters; loads" in done.stdout


def test_without_torch_golden_data_from_the_engine_is_written(tmp_path):
    # No torch module named: the expected outputs are the engine's own in float64, which needs no torch.
    done = _without_torch("verify", GOOD, "--no-manifest", "--save-golden", tmp_path / "golden")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "golden" / "mlp").is_dir()


@pytest.mark.parametrize(
    ("command", "args"),
    [
        pytest.param("verify", [GOOD, "--no-manifest"], id="verify-file"),
        pytest.param("verify", [GOOD, "--no-manifest", "--against", "torch:nn"], id="verify-against"),
        pytest.param("verify", [], id="verify-manifest"),
        pytest.param(
            "verify", [GOOD, "--no-manifest", "--against", "m:f", "--save-golden", "out"], id="save-golden"
        ),
        pytest.param("verify", ["reduce", GOOD, "--against", "m:f", "-o", "out"], id="reduce"),
        pytest.param("verify-production", ["--write", "out"], id="verify-production"),
    ],
)
def test_without_torch_what_runs_pytorch_exits_2_with_the_install_hint(tmp_path, command, args):
    # the manifest names a file of its own project (one outside it is refused before torch is asked for)
    (tmp_path / GOOD.name).write_bytes(GOOD.read_bytes())
    (tmp_path / "verifier.json").write_text(f'{{"models": [{{"name": "M", "file": "{GOOD.name}"}}]}}')
    done = _without_torch(command, *args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""  # no report: the torch-free checks alone are no verdict
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"{command}: error: ")
    assert line.endswith(f"needs torch, which is not installed: {HINT}")
    assert not (tmp_path / "out").exists()
