"""``--format html``: one self-contained page with a plot per model and chart, checked as a file and in a real
browser (headless Chromium, Debian's ``chromium`` package): no console error, a screenshot that is not
blank, and the plots in the rendered DOM. Without Chromium the browser tests skip with the reason, except
under CI (``CI=true``), where that is a failure."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from torch import nn

from verifier.cli import main
from verifier.pytorch.export import export
from verifier.report.html import CHARTS

FAST = ["--rss-copies", "0", "--steps", "48", "--timing-steps", "200"]


class _Plots(HTMLParser):
    """Every ``figure.plot`` as (data-model, data-chart), whether it holds an <svg>, and external refs."""

    def __init__(self) -> None:
        super().__init__()
        self.plots: list[tuple[str, str]] = []
        self.svg_in_plot: list[bool] = []
        self.external: list[str] = []
        self._open_plot = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "figure" and "plot" in (values.get("class") or "").split():
            self.plots.append((values.get("data-model") or "", values.get("data-chart") or ""))
            self.svg_in_plot.append(False)
            self._open_plot = True
        elif tag == "svg" and self._open_plot:
            self.svg_in_plot[-1] = True
        elif tag == "figure":
            self._open_plot = False
        for name in ("src", "href"):
            if values.get(name) and not str(values[name]).startswith("#"):
                self.external.append(f"<{tag} {name}={values[name]}>")
        if tag in ("script", "link", "iframe", "img"):
            self.external.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._open_plot = False


def _parse(text: str) -> _Plots:
    parser = _Plots()
    parser.feed(text)
    return parser


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, Path]:
    """Two small models and a manifest naming them, with a memory budget."""
    folder = tmp_path_factory.mktemp("html")
    torch.manual_seed(4)
    export(
        nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.LSTM(6, 4, batch_first=True), nn.Linear(4, 2)),
        folder / "rnn.json",
    )
    export(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), folder / "mlp.json")
    manifest = folder / "verifier.json"
    manifest.write_text(
        json.dumps(
            {
                "memory": {"budget_bytes": 4096, "budget_text": "4 KiB"},
                "models": [
                    {"name": "Recurrent", "file": "rnn.json"},
                    {"name": "Feedforward", "file": "mlp.json"},
                ],
            }
        )
    )
    return folder, manifest


@pytest.fixture(scope="module")
def report(models, tmp_path_factory) -> Path:
    folder, manifest = models
    out = tmp_path_factory.mktemp("html-out")
    baseline = out / "baseline.json"
    files = [str(folder / "rnn.json"), str(folder / "mlp.json")]
    main([*files, "--manifest", str(manifest), *FAST, "--format", "json", "-o", str(baseline), "-q"])
    page = out / "report.html"
    main(
        [
            *files,
            "--manifest",
            str(manifest),
            *FAST,
            "--format",
            "html",
            "-o",
            str(page),
            "-q",
            "--baseline",
            str(baseline),
        ]
    )
    return page


def test_the_page_has_one_svg_plot_per_model_and_chart_and_one_memory_plot(report):
    parsed = _parse(report.read_text(encoding="utf-8"))
    expected = [(m, c) for m in ("Recurrent", "Feedforward") for c in CHARTS]
    assert sorted(p for p in parsed.plots if p[0] != "all") == sorted(expected)
    assert [p for p in parsed.plots if p[0] == "all"] == [("all", "memory")]
    assert all(parsed.svg_in_plot)


def test_the_page_fetches_nothing(report):
    text = report.read_text(encoding="utf-8")
    assert _parse(text).external == []
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text)
    assert "@import" not in text


def test_the_page_shows_checks_statistics_and_baseline_deltas(report):
    text = report.read_text(encoding="utf-8")
    assert "Error statistics" in text
    assert text.count("<code>numeric-stream</code>") == 2
    assert 'id="baseline"' in text
    assert "max abs error, stream" in text
    assert "+0.0%" in text or "±0" in text  # the same run against itself: no change


def test_without_matplotlib_the_cli_says_how_to_install_it(models, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    folder, manifest = models
    code = main([str(folder / "mlp.json"), "--manifest", str(manifest), "--format", "html"])
    err = capsys.readouterr().err
    assert code == 2
    assert "pip install 'rtneural-verifier[html]'" in err


# ------------------------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def chromium() -> list[str]:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
            return [found, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    reason = "headless Chromium is not installed (Debian: apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; under CI the HTML report must be checked in a browser", pytrace=False)
    pytest.skip(reason)


def _browse(chromium: list[str], page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*chromium, "--enable-logging=stderr", "--v=0", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )


def _console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def test_console_messages_are_seen_by_this_harness(chromium, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><script>console.error('broken page');</script></body></html>"
    )
    done = _browse(chromium, broken, "--dump-dom")
    assert any("broken page" in line for line in _console_messages(done.stderr))


def test_the_browser_renders_it_without_console_errors(chromium, report):
    done = _browse(chromium, report, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert _console_messages(done.stderr) == []
    rendered = _parse(done.stdout)
    assert len([p for p in rendered.plots if p[0] != "all"]) == 2 * len(CHARTS)


def test_the_screenshot_is_not_blank(chromium, report, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    done = _browse(chromium, report, "--window-size=1280,2400", f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2400)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None
    # A blank page has one or two colours; plots, text and badges give thousands.
    assert len(colours) > 500
    background = max(colours)[0] / (image.size[0] * image.size[1])
    assert background < 0.9
