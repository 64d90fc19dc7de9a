"""The package's shape: a lazy public API, start-up without torch, and the checkout usable as it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOOD = REPO / "fixtures" / "good" / "mlp.json"


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
