"""A campaign of hostile inputs over every reader besides the model reader, and over the writers.

Each case runs ``python -m verifier`` (or ``pytest --verify-manifest``) in a child process of its own, with a
timeout and an address-space limit, and records its exit status, its peak RSS (``wait4``) and the size of
the hostile file. One line per case, a summary per reader::

    PYTHONPATH=. python tools/hostile_inputs.py [--tree DIR] [--timeout 30]

``--tree`` runs another checkout's ``verifier`` (a baseline to compare with). Exit status 0 when every case
ended with exit 1 or 2 (pytest: 4, its usage error), within the timeout and 500 MB; 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
ADDRESS_SPACE = 4 << 30
#: a report of numbers at its cap (32 MiB) peaks at 480 MB
PEAK_ALLOWED_KB = 500_000
DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5001

#: hostile JSON texts: name -> content (bytes)
JSON_TEXTS: dict[str, bytes] = {
    "deep-nesting": b'{"a": ' + DEEP.encode() + b"}",
    "5001-digit-integer": b'{"a": ' + HUGE_INT.encode() + b"}",
    "lone-surrogate-value": b'{"a": "\\ud800"}',
    "lone-surrogate-key": b'{"\\udfff": 1}',
    "not-an-object": b"[1, 2]",
    "truncated": b'{"a": [1, 2',
    "not-utf8": b'{"a": "\xff"}',
    "infinity-literal": b'{"a": Infinity}',
    "1e400": b'{"a": 1e400}',
    "conflicting-duplicate-key": b'{"a": 1, "a": 2}',
    "empty": b"",
    "nul-byte": b'{"a": 1}\x00',
    "bom": b'\xef\xbb\xbf{"a": 1}',
}


def special_files(folder: Path) -> dict[str, Path]:
    """Paths that are not regular files, or lie about their size."""
    fifo = folder / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    sparse = folder / "sparse-300MB.json"
    with open(sparse, "wb") as handle:
        handle.truncate(300 << 20)
    return {
        "/dev/zero": Path("/dev/zero"),
        "/dev/urandom": Path("/dev/urandom"),
        "fifo": fifo,
        "directory": folder,
        "/proc/self/maps": Path("/proc/self/maps"),
        "sparse-300MB": sparse,
        "missing": folder / "no-such-file.json",
    }


def hostile_files(folder: Path) -> dict[str, Path]:
    files = dict(special_files(folder))
    for name, content in JSON_TEXTS.items():
        path = folder / f"{name}.json"
        path.write_bytes(content)
        files[name] = path
    # Large but well-formed: what reading costs in proportion to the size (a report's cap is 32 MiB, a
    # manifest's 4 MiB).
    for megabytes in (3, 31):
        files[f"string-{megabytes}MB"] = folder / f"string-{megabytes}MB.json"
        files[f"string-{megabytes}MB"].write_bytes(b'{"a": "' + b"x" * (megabytes << 20) + b'"}')
        files[f"numbers-{megabytes}MB"] = folder / f"numbers-{megabytes}MB.json"
        files[f"numbers-{megabytes}MB"].write_bytes(b'{"a": [' + b"0.5," * (megabytes << 18) + b"0]}")
    return files


#: (reader, case) whose right outcome is a pass: a pyproject whose [tool] has no verifier table to read
PASSING = {("pyproject.toml", "verifier=3")}


def child(
    argv: list[str], cwd: Path, tree: Path, timeout: float, module: str = "verifier"
) -> tuple[str, int]:
    """(outcome, peak RSS in kB): the exit status, or ``timeout``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(cwd)])}

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    process = subprocess.Popen(
        [sys.executable, "-m", module, *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=limit,
    )
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return str(process.returncode), usage.ru_maxrss
        if time.monotonic() > deadline:
            process.kill()
            _, _, usage = os.wait4(process.pid, 0)
            process.returncode = -9
            return "timeout", usage.ru_maxrss
        time.sleep(0.05)


def size_of(path: Path) -> str:
    try:
        return str(path.stat().st_size) if path.is_file() else "-"
    except OSError:
        return "-"


def make_model(folder: Path, tree: Path) -> Path:
    model = folder / "model.json"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from torch import nn; import torch; from verifier.pytorch.export import export; "
            "torch.manual_seed(3); "
            "export(nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4)), sys.argv[1])",
            str(model),
        ],
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=True,
    )
    return model


def cases(
    folder: Path, model: Path
) -> dict[str, list[tuple[str, Callable[[], tuple[list[str], str, Path]]]]]:
    """reader -> [(case, make)]; make() prepares the case, returns (argv, module, the hostile path)."""
    files = hostile_files(folder)
    base = ["--no-timing", "--rss-copies", "0", "--steps", "8"]
    by_reader: dict[str, list] = defaultdict(list)
    for name, path in files.items():
        by_reader["render REPORT"].append((name, lambda p=path: (["render", str(p)], "verifier", p)))
        by_reader["--baseline"].append(
            (name, lambda p=path: ([str(model), "--baseline", str(p), *base], "verifier", p))
        )
        by_reader["--manifest"].append(
            (name, lambda p=path: ([str(model), "--manifest", str(p), *base], "verifier", p))
        )
        by_reader["pytest --verify-manifest"].append(
            (
                name,
                lambda p=path: (["-p", "no:cacheprovider", "-q", "--verify-manifest", str(p)], "pytest", p),
            )
        )
    manifest_values: dict[str, dict[str, Any]] = {
        "latency.steps 1e9": {"latency": {"steps": 10**9}},
        "latency.warmup 1e12": {"latency": {"warmup": 10**12}},
        "latency.steps 1e300": {"latency": {"steps": 1e300}},
        "rss_copies 1e9": {"memory": {"budget_bytes": 1, "rss_copies": 10**9}},
        "atol string": {"tolerance": {"float32": {"atol": "x"}}},
        "file with NUL": {"models": [{"name": "m", "file": "a\u0000b"}]},
        "factory ':'": {"models": [{"name": "m", "file": "model.json", "factory": ":"}]},
        "in_size 1e9": {"models": [{"name": "m", "file": "model.json", "in_size": 10**9}]},
    }
    for name, top in manifest_values.items():
        path = folder / f"manifest-{len(by_reader['--manifest'])}.json"
        data = {"models": [{"name": "m", "file": "model.json"}], **top}
        path.write_text(json.dumps(data))
        by_reader["--manifest"].append(
            (name, lambda p=path: ([str(model), "--manifest", str(p), *base], "verifier", p))
        )
    atol_inf = folder / "manifest-atol-inf.json"
    atol_inf.write_text(
        '{"tolerance": {"float32": {"atol": 1e400}}, "models": [{"name": "m", "file": "model.json"}]}'
    )
    by_reader["--manifest"].append(
        ("atol 1e400", lambda: ([str(model), "--manifest", str(atol_inf), *base], "verifier", atol_inf))
    )
    pyprojects = {
        "manifest=/dev/zero": '[tool.verifier]\nmanifest = "/dev/zero"\n',
        "manifest=fifo": f'[tool.verifier]\nmanifest = "{files["fifo"]}"\n',
        "5001-digit-integer": "x = 1" + "0" * 5000 + "\n",
        "deep-nesting": "x = " + DEEP + "\n",
        "not-toml": "[tool\n",
        "manifest=3": "[tool.verifier]\nmanifest = 3\n",
        "verifier=3": "[tool]\nverifier = 3\n",
        "not-utf8": "x = '\udcff'\n",
    }
    for name, text in pyprojects.items():
        project = folder / f"project-{len(by_reader['pyproject.toml'])}"
        project.mkdir(exist_ok=True)
        (project / "model.json").write_bytes(model.read_bytes())
        (project / "pyproject.toml").write_bytes(text.encode("utf-8", "surrogateescape"))
        by_reader["pyproject.toml"].append(
            (
                name,
                lambda p=project: (
                    [str(p / "model.json"), *base, "--manifest-cwd", str(p)],
                    "verifier",
                    p / "pyproject.toml",
                ),
            )
        )
    replay_cases(folder, model, files, by_reader)
    output_cases(folder, model, files, by_reader)
    count_cases(model, by_reader)
    return by_reader


def _repro(folder: Path, model: Path, name: str) -> Path:
    repro = folder / f"repro-{name.replace('/', '_')}"
    repro.mkdir(exist_ok=True)
    (repro / "model.json").write_bytes(model.read_bytes())
    (repro / "inputs.csv").write_text("0.5,0,0,0,0,0\n" * 4)
    (repro / "expected.csv").write_text("0,0,0,0\n" * 4)
    meta = {"format": "rtneural-verifier-repro", "format_version": 1, "check": "numeric-stream"}
    meta |= {"pattern": "stream", "dtype": "float32", "atol": 1e-5, "rtol": 0.0, "rule": None}
    (repro / "check.json").write_text(json.dumps(meta))
    return repro


def replay_cases(folder: Path, model: Path, files: dict[str, Path], by_reader: dict[str, list]) -> None:
    for target in ("check.json", "inputs.csv", "expected.csv"):
        for name, path in files.items():
            if name == "missing":
                continue
            repro = _repro(folder, model, f"{target}-{name}")
            (repro / target).unlink()
            (repro / target).symlink_to(path)
            by_reader[f"replay {target}"].append(
                (name, lambda r=repro, p=path: (["replay", str(r)], "verifier", p))
            )
    changes: dict[str, dict[str, Any]] = {
        "no pattern": {"pattern": None, "DROP": "pattern"},
        "no dtype": {"DROP": "dtype"},
        "dtype float16": {"dtype": "float16"},
        "atol string": {"atol": "1e-5"},
        "atol null": {"atol": None},
        "rtol 1e400": {"rtol": "RAW1e400"},
        "format_version 2": {"format_version": 2},
    }
    for name, change in changes.items():
        repro = _repro(folder, model, f"meta-{len(by_reader['replay check.json values'])}")
        meta = json.loads((repro / "check.json").read_text())
        drop = change.pop("DROP", None)
        meta.update(change)
        meta.pop(drop, None)
        text = json.dumps(meta).replace('"RAW1e400"', "1e400")
        (repro / "check.json").write_text(text)
        by_reader["replay check.json values"].append(
            (name, lambda r=repro: (["replay", str(r)], "verifier", r / "check.json"))
        )
    for name, text in {
        "nan": "nan,0,0,0\n" * 4,
        "ragged": "0,0\n0\n0\n0\n",
        "empty": "",
        "text": "a,b\n",
    }.items():
        repro = _repro(folder, model, f"csv-{name}")
        (repro / "expected.csv").write_text(text)
        by_reader["replay CSV values"].append(
            (name, lambda r=repro: (["replay", str(r)], "verifier", r / "expected.csv"))
        )


def output_cases(folder: Path, model: Path, files: dict[str, Path], by_reader: dict[str, list]) -> None:
    work = folder / "outputs"
    work.mkdir(exist_ok=True)
    (work / "sub").mkdir(exist_ok=True)
    target = work / "model.json"
    link, hard = work / "link.json", work / "hard.json"

    def fresh() -> None:
        for path in (target, link, hard):
            path.unlink(missing_ok=True)
        target.write_bytes(model.read_bytes())
        link.symlink_to(target)
        os.link(target, hard)

    outputs = {
        "fifo": files["fifo"],
        "/dev/full": Path("/dev/full"),
        "directory": work / "sub",
        "the input": target,
        "the input via ../": work / "sub" / ".." / "model.json",
        "a symlink to the input": link,
        "a hard link to the input": hard,
    }
    for command in ("validate", "inspect", "verify"):
        for name, out in outputs.items():

            def make(out=out, command=command) -> tuple[list[str], str, Path]:
                fresh()
                argv = [str(target), "-o", str(out), "--no-timing", "--rss-copies", "0", "--no-manifest"]
                return (
                    ([command, str(target), "-o", str(out)] if command != "verify" else argv),
                    "verifier",
                    out,
                )

            by_reader[f"{command} -o"].append((name, make))
    reduce_out = folder / "reduce"
    reduce_out.mkdir(exist_ok=True)
    (reduce_out / "model.json").write_bytes(model.read_bytes())
    by_reader["reduce -o"].append(
        (
            "-o the input's folder",
            lambda: (
                ["reduce", str(reduce_out / "model.json"), "--against", "os:getcwd", "-o", str(reduce_out)],
                "verifier",
                reduce_out,
            ),
        )
    )
    embed = folder / "embed"
    embed.mkdir(exist_ok=True)

    def stranger() -> tuple[list[str], str, Path]:
        (embed / "model.json").write_text('{"in_shape": [null, 1], "layers": []}')
        return (
            [str(model), "--embed-golden", str(embed), "--no-timing", "--no-manifest", "--steps", "8"],
            "verifier",
            embed,
        )

    by_reader["--embed-golden"].append(("an unrelated file of the same name", stranger))
    occupied = folder / "occupied"
    occupied.write_text("mine")
    by_reader["--save-golden"].append(
        (
            "an existing file",
            lambda: (
                [str(model), "--save-golden", str(occupied), "--no-manifest", "--steps", "8"],
                "verifier",
                occupied,
            ),
        )
    )


def count_cases(model: Path, by_reader: dict[str, list]) -> None:
    options = {
        "--timing-steps 1e12": ["--timing-steps", str(10**12)],
        "--steps 1e7": ["--steps", str(10**7)],
        "--jobs 1e6": ["--jobs", str(10**6)],
        "--seed 2^64": ["--seed", str(2**64)],
        "--rss-copies 1e9": ["--rss-copies", str(10**9)],
        "--atol 1e400": ["--atol", "1e400"],
        "--against :": ["--against", ":"],
        "--against 300 chars": ["--against", "a" * 300 + ":f"],
    }
    for name, argv in options.items():
        by_reader["options"].append(
            (name, lambda a=argv: ([str(model), *a, "--no-manifest", "--no-timing"], "verifier", model))
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=HERE, help="checkout whose verifier is run")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--only", default="", help="readers whose name holds this text")
    args = parser.parse_args()
    tree = args.tree.resolve()
    bad = 0
    with tempfile.TemporaryDirectory(prefix="hostile-") as scratch:
        folder = Path(scratch)
        model = make_model(folder, tree)
        for reader, items in cases(folder, model).items():
            if args.only not in reader:
                continue
            outcomes: Counter[str] = Counter()
            peak = 0
            for name, make in items:
                argv, module, hostile = make()
                cwd = folder
                if "--manifest-cwd" in argv:  # a pyproject case: run in its project folder, no --manifest
                    at = argv.index("--manifest-cwd")
                    cwd = Path(argv[at + 1])
                    argv = argv[:at] + argv[at + 2 :]
                outcome, rss = child(argv, cwd, tree, args.timeout, module)
                outcomes[outcome] += 1
                peak = max(peak, rss)
                # pytest's exit 4 is its usage error
                allowed = {"1", "2", "4"} if module == "pytest" else {"1", "2"}
                ok = outcome in (allowed | {"0"} if (reader, name) in PASSING else allowed)
                ok = ok and rss < PEAK_ALLOWED_KB
                bad += not ok
                print(
                    f"{reader:28} {name:36} exit {outcome:8} peak {rss / 1024:7.0f} MB "
                    f"size {size_of(hostile)}"
                )
            summary = ", ".join(f"exit {k}: {v}" for k, v in sorted(outcomes.items()))
            print(f"== {reader}: {len(items)} inputs; {summary}; peak RSS {peak / 1024:.0f} MB", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
