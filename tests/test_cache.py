"""The result cache (verifier.checks.run.cache): an unchanged file is served and says so; anything its
verdict depends on changing is a miss; an entry is hostile input, and a stale or forged one is a miss, never
a pass."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import verifier
from verifier.checks.budgets import PluginLatency
from verifier.checks.results import FAIL, PASS, Check, FileResult
from verifier.checks.run import cache as cache_module
from verifier.checks.run.cache import CACHE_FOLDER, MAX_ENTRY_BYTES, ResultCache
from verifier.checks.run.manifest import parse_manifest
from verifier.checks.run.options import Options
from verifier.checks.run.verify import verify_files
from verifier.cli import _wants_cache, build_parser, main
from verifier.cli.config import parse_with_config
from verifier.format.schema.validator import validator
from verifier.report.formats import format_json, format_markdown, format_text

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "fixtures" / "good" / "mlp.json"
BAD = ROOT / "fixtures" / "bad" / "batchnorm_negative_epsilon.json"
QUICK = Options(timing=False, rss_copies=0)
FACTORY = """
import torch
from torch import nn

from mypkg.layers import width


def make():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, width()), nn.Tanh(), nn.Linear(width(), 1))
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project (pyproject.toml, the package mypkg with a factory, an export), the current directory."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(FACTORY)
    (package / "layers.py").write_text("def width():\n    return 3\n")
    shutil.copy(GOOD, tmp_path / "m.json")
    shutil.copy(BAD, tmp_path / "bad.json")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(verifier.cli, "_wants_cache", _wants_cache)  # the real rule, not the suite's
    return tmp_path


def _manifest(folder: Path, **settings):
    data = {
        "models": [{"name": "m", "file": "m.json", "factory": "mypkg.models:make", "parameters": 134}],
        "memory": {"budget_bytes": 1 << 22},
        **settings,
    }
    return parse_manifest(data, folder / "verifier.json")


def _key(project: Path, path: str = "m.json", options: Options = QUICK, manifest=None, jobs: int = 1):
    return ResultCache(project).key(path, options, manifest, jobs=jobs)


def _entry(project: Path) -> Path:
    (entry,) = (project / CACHE_FOLDER / "entries").iterdir()
    return entry


# --------------------------------------------------------------------------------------------- hits


def test_an_unchanged_file_is_served_from_the_cache_and_the_reports_say_cached(project, monkeypatch):
    first = verify_files(["m.json"], QUICK, cache=ResultCache(project))
    assert first.files[0].cached is None

    def must_not_run(*args, **kwargs):
        raise AssertionError("a served file was checked again")

    monkeypatch.setattr("verifier.checks.run.verify.prepare_file", must_not_run)
    tool = {"name": "rtneural-verifier", "version": "0", "backend": "engine"}
    machine = {"cpu": "?", "cores_logical": 1, "python": "3", "platform": "?"}
    second = verify_files(["m.json"], QUICK, cache=ResultCache(project), tool=tool, machine=machine)
    served = second.files[0]
    assert served.cached is not None
    assert [c.to_dict() for c in served.checks] == [c.to_dict() for c in first.files[0].checks]
    assert served.cached["key"] == _key(project)
    report = json.loads(format_json(second))
    validator("report").validate(report)
    assert report["files"][0]["cached"]["key"] == served.cached["key"]
    assert "m.json: ok (cached: unchanged since the run of" in format_text(second)
    markdown = format_markdown(second)
    assert "| ✅ pass (cached) |" in markdown
    assert "its figures, latency and memory included, are that run's" in markdown


def test_the_cache_folder_is_ignored_by_git_and_tagged_as_a_cache(project):
    verify_files(["bad.json"], QUICK, cache=ResultCache(project))
    folder = project / CACHE_FOLDER
    assert folder.joinpath(".gitignore").read_text().splitlines()[-1] == "*"
    assert (
        folder.joinpath("CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )


def test_a_failing_result_is_served_failing(project):
    first = verify_files(["bad.json"], QUICK, cache=ResultCache(project))
    second = verify_files(["bad.json"], QUICK, cache=ResultCache(project))
    assert first.failed
    assert second.files[0].cached is not None
    assert second.failed
    assert [c.status for c in second.files[0].checks] == [c.status for c in first.files[0].checks]


# --------------------------------------------------------------------------------------------- misses


def test_a_changed_export_byte_is_a_miss(project):
    before = _key(project)
    data = bytearray((project / "m.json").read_bytes())
    digit = next(i for i, byte in enumerate(data) if chr(byte) in "123456789")
    data[digit] = ord("1") if data[digit] != ord("1") else ord("2")
    (project / "m.json").write_bytes(bytes(data))
    assert _key(project) != before


@pytest.mark.parametrize("edited", ["mypkg/layers.py", "mypkg/models.py", "helpers.py"])
def test_a_changed_source_file_of_the_project_is_a_miss_for_a_factory(project, edited):
    (project / "helpers.py").write_text("X = 1\n")
    manifest = _manifest(project)
    before = _key(project, manifest=manifest)
    assert before is not None
    with open(project / edited, "a") as stream:
        stream.write("# edited\n")
    assert _key(project, manifest=manifest) != before


def test_a_project_too_big_to_hash_is_not_cached_for_a_factory(project, monkeypatch):
    monkeypatch.setattr(cache_module, "MAX_SOURCE_FILES", 2)
    assert _key(project, manifest=_manifest(project)) is None


def test_a_folder_link_loop_in_the_project_ends_and_its_files_still_key(project):
    (project / "mypkg" / "loop").symlink_to(project / "mypkg", target_is_directory=True)
    manifest = _manifest(project)
    before = _key(project, manifest=manifest)
    (project / "mypkg" / "layers.py").write_text("def width():\n    return 4\n")
    assert _key(project, manifest=manifest) != before


def test_a_result_that_is_not_json_is_not_stored_and_not_an_error(project):
    cache = ResultCache(project)
    key = cache.key("m.json", QUICK, None)
    cache.store("m.json", key, FileResult("m.json", (Check("validate", PASS, "ok", {"x": object()}),)))
    assert cache.lookup("m.json", key) is None


def test_a_changed_data_file_inside_the_factory_package_is_a_miss(project):
    (project / "mypkg" / "weights.bin").write_bytes(b"\x00" * 8)
    manifest = _manifest(project)
    before = _key(project, manifest=manifest)
    (project / "mypkg" / "weights.bin").write_bytes(b"\x01" * 8)
    assert _key(project, manifest=manifest) != before


def test_a_factory_found_neither_in_the_project_nor_in_a_distribution_is_not_cached(
    project, tmp_path_factory, monkeypatch
):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "faraway.py").write_text("def make():\n    return None\n")
    monkeypatch.syspath_prepend(str(elsewhere))
    assert _key(project, options=dataclasses.replace(QUICK, against="faraway:make")) is None
    assert _key(project, options=dataclasses.replace(QUICK, against="no_such_module_at_all:make")) is None


def test_an_installed_factory_is_keyed_on_its_distribution_and_an_editable_one_is_not_cached(
    project, monkeypatch
):
    options = dataclasses.replace(QUICK, against="numpy:ones")  # an installed package, not the project's
    assert _key(project, options=options) is not None
    real = metadata.distribution

    class Editable:
        version = "1.0"

        def read_text(self, name):
            return (
                json.dumps({"url": "file:///src", "dir_info": {"editable": True}})
                if name == "direct_url.json"
                else None
            )

    monkeypatch.setattr(metadata, "distribution", lambda name: Editable() if name == "numpy" else real(name))
    assert _key(project, options=options) is None


def test_a_changed_installed_distribution_is_a_miss_for_a_factory(project, tmp_path_factory, monkeypatch):
    """A factory may import any installed package (not only torch and numpy)."""
    site = tmp_path_factory.mktemp("site")
    (site / "some_layers-1.0.dist-info").mkdir()
    monkeypatch.syspath_prepend(str(site))
    manifest = _manifest(project)
    before = _key(project, manifest=manifest)
    (site / "some_layers-1.0.dist-info").rename(site / "some_layers-2.0.dist-info")
    assert _key(project, manifest=manifest) != before


def test_a_changed_checkpoint_byte_is_a_miss(project):
    (project / "module.pt").write_bytes(b"checkpoint bytes")
    options = dataclasses.replace(QUICK, against="module.pt")
    before = _key(project, options=options)
    assert before is not None
    (project / "module.pt").write_bytes(b"checkpoint bytez")
    assert _key(project, options=options) != before


def test_a_changed_manifest_entry_field_is_a_miss(project):
    before = _key(project, manifest=_manifest(project))
    manifest = _manifest(project)
    changed = dataclasses.replace(manifest, models=(dataclasses.replace(manifest.models[0], parameters=135),))
    assert _key(project, manifest=changed) != before


@pytest.mark.parametrize(
    "settings",
    [
        {"dtype": "float64"},
        {"tolerance": {"float32": {"atol": 1e-3}}},
        {"latency": {"steps": 10}},
        {"latency": {"warmup": 10}},
        {"latency": {"budget_p99_ns": 5}},
        {"memory": {"budget_bytes": 100}},
        {"memory": {"budget_bytes": 1 << 22, "rss_copies": 2}},
    ],
)
def test_a_changed_manifest_wide_setting_is_a_miss(project, settings):
    assert _key(project, manifest=_manifest(project, **settings)) != _key(
        project, manifest=_manifest(project)
    )


# A value other than the default for every field of Options: a new option without one fails the test below.
CHANGED_OPTIONS = {
    "dtype": "float64",
    "atol": 1e-3,
    "rtol": 1e-3,
    "steps": 7,
    "seed": 5,
    "timing": True,
    "timing_steps": 9,
    "warmup": 3,
    "rss_copies": 2,
    "against": "mypkg.models:make",
    "backend": "rtneural",
    "reference_timeout": 10.0,
    "long_streams": 2.0,
    "plugin_latency": (
        PluginLatency("p.json", "small", "ModelT", "float32", {"stream": {"p50_ns": 1.0, "p99_ns": 2.0}}),
    ),
}


def test_every_option_has_a_changed_value_to_test():
    assert set(CHANGED_OPTIONS) == {field.name for field in dataclasses.fields(Options)}


@pytest.mark.parametrize("name", sorted(CHANGED_OPTIONS))
def test_a_changed_option_is_a_miss(project, name):
    assert _key(project, options=dataclasses.replace(QUICK, **{name: CHANGED_OPTIONS[name]})) != _key(project)


def test_a_changed_number_of_jobs_is_a_miss(project):
    assert _key(project, jobs=2) != _key(project)


def test_a_changed_tool_version_is_a_miss(project, monkeypatch):
    before = _key(project)
    monkeypatch.setattr(verifier, "__version__", "99.0")
    assert _key(project) != before


def test_a_changed_engine_build_is_a_miss(project, monkeypatch):
    before = _key(project)
    other = project / "_verifier_engine.so"
    other.write_bytes(b"another build")
    real = cache_module._module_file
    monkeypatch.setattr(
        cache_module, "_module_file", lambda name: other if name == "_verifier_engine" else real(name)
    )
    assert _key(project) != before


@pytest.mark.parametrize("distribution", ["torch", "numpy"])
def test_a_changed_torch_or_numpy_version_is_a_miss(project, monkeypatch, distribution):
    before = _key(project)
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "0.0.1" if name == distribution else real(name))
    assert _key(project) != before


# ------------------------------------------------------------------------------------------- hostile entries


def _stored(project: Path, result: FileResult, path: str = "m.json") -> tuple[ResultCache, str]:
    cache = ResultCache(project)
    key = cache.key(path, QUICK, None)
    cache.store(path, key, result)
    assert cache.lookup(path, key) is not None  # the entry as written is a hit
    return cache, key


FAILING = FileResult("m.json", (Check("validate", FAIL, "E101 /layers/0: something wrong", {}),))


def _truncated(entry: Path) -> None:
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])


def _corrupted(entry: Path) -> None:
    entry.write_bytes(b"\xff\xfe not json at all")


def _symlinked(entry: Path) -> None:
    copy = entry.parent.parent.parent / "elsewhere.json"
    shutil.copy(entry, copy)
    entry.unlink()
    entry.symlink_to(copy)


def _huge(entry: Path) -> None:
    # valid JSON still (trailing blanks), so only the size bound turns it away
    with open(entry, "ab") as stream:
        stream.write(b" " * (MAX_ENTRY_BYTES + 1))


def _fifo(entry: Path) -> None:
    entry.unlink()
    os.mkfifo(entry)


def _deep(entry: Path) -> None:
    entry.write_text("[" * 100_000 + "]" * 100_000)


def _tampered_to_pass(entry: Path) -> None:
    text = entry.read_text()
    assert '"status": "fail"' in text
    entry.write_text(text.replace('"status": "fail"', '"status": "pass"'))


def _another_key(entry: Path) -> None:
    data = json.loads(entry.read_text())
    data["key"] = "0" * 64
    entry.write_text(json.dumps(data))


def _folder_symlinked(entry: Path) -> None:
    folder = entry.parent.parent
    moved = folder.parent / "moved-cache"
    folder.rename(moved)
    folder.symlink_to(moved)


@pytest.mark.parametrize(
    "spoil",
    [
        _truncated,
        _corrupted,
        _symlinked,
        _huge,
        _fifo,
        _deep,
        _tampered_to_pass,
        _another_key,
        _folder_symlinked,
    ],
)
def test_a_spoiled_entry_is_a_miss(project, spoil):
    cache, key = _stored(project, FAILING)
    spoil(_entry(project))
    assert cache.lookup("m.json", key) is None


def test_a_forged_entry_with_a_recomputed_digest_still_cannot_say_pass_for_failing_checks(project):
    """The file's status is recomputed from its checks: an entry saying "pass" beside a failing check is not
    served."""
    cache, key = _stored(project, FAILING)
    entry = _entry(project)
    data = json.loads(entry.read_text())
    data["result"]["status"] = PASS
    body = {name: data[name] for name in ("entry_version", "key", "measured_at", "result")}
    data["digest"] = cache_module._digest(body)
    entry.write_text(json.dumps(data))
    assert cache.lookup("m.json", key) is None


def test_an_internal_error_is_not_stored(project):
    cache = ResultCache(project)
    key = cache.key("m.json", QUICK, None)
    cache.store("m.json", key, FileResult("m.json", (Check("internal-error", FAIL, "boom", {}),)))
    assert cache.lookup("m.json", key) is None


# --------------------------------------------------------------------------------------------- on and off


def test_the_cache_is_on_by_default(project, monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    main(["bad.json", "--no-timing", "--rss-copies", "0"])
    main(["bad.json", "--no-timing", "--rss-copies", "0"])
    assert "bad.json: FAIL (cached" in capsys.readouterr().out


def test_the_cache_is_off_under_ci_unless_asked_for(project, monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    main(["bad.json", "--no-timing", "--rss-copies", "0"])
    main(["bad.json", "--no-timing", "--rss-copies", "0"])
    assert "cached" not in capsys.readouterr().out
    assert not (project / CACHE_FOLDER).exists()
    main(["bad.json", "--no-timing", "--rss-copies", "0", "--cache"])
    main(["bad.json", "--no-timing", "--rss-copies", "0", "--cache"])
    assert "bad.json: FAIL (cached" in capsys.readouterr().out


def test_no_cache_checks_every_file(project, monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    main(["bad.json", "--no-timing", "--rss-copies", "0"])
    main(["bad.json", "--no-timing", "--rss-copies", "0", "--no-cache"])
    assert "cached" not in capsys.readouterr().out


def test_the_cache_is_settable_in_tool_verifier_and_the_command_line_wins(project):
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n\n[tool.verifier]\ncache = true\n")
    assert parse_with_config(build_parser(), [], project).cache is True
    args = parse_with_config(build_parser(), ["--no-cache"], project)
    assert (args.cache, args.no_cache) == (False, True)


# --------------------------------------------------------------------------------------------- no torch


def _verify_in_a_subprocess(project: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``verify *argv`` in a fresh interpreter in ``project``, printing whether torch was imported there."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(project)])}
    env.pop("CI", None)
    probe = (
        "import sys; from verifier.cli import main; code = main(sys.argv[1:]); "
        "print('torch imported' if 'torch' in sys.modules else 'torch not imported'); sys.exit(code)"
    )
    command = [sys.executable, "-c", probe, *argv, "--no-timing", "--rss-copies", "0"]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)


def test_a_run_whose_files_are_all_served_never_imports_torch(project):
    """A file checked against its JSON's own torch rebuild imports torch in the run's process; served,
    it does not."""
    first = _verify_in_a_subprocess(project, "m.json")
    second = _verify_in_a_subprocess(project, "m.json")
    assert "torch imported" in first.stdout, first.stderr
    assert "(cached" in second.stdout, second.stderr
    assert "torch not imported" in second.stdout
    assert second.returncode == first.returncode


def test_a_run_whose_files_are_all_served_never_runs_the_factory(project):
    """The factory's module (which imports torch) is imported by the reference's process on a checked run,
    and by nothing on a served one."""
    marker = project / "imported.txt"
    models = project / "mypkg" / "models.py"
    models.write_text(f"open({str(marker)!r}, 'a').write('imported\\n')\n" + models.read_text())
    first = _verify_in_a_subprocess(project, "m.json", "--against", "mypkg.models:make")
    imports = marker.read_text().count("imported")
    second = _verify_in_a_subprocess(project, "m.json", "--against", "mypkg.models:make")
    assert imports >= 1, first.stdout + first.stderr
    assert "(cached" in second.stdout, second.stdout + second.stderr
    assert marker.read_text().count("imported") == imports
    assert "torch not imported" in second.stdout
    assert second.returncode == first.returncode
