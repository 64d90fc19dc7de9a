"""``--format html``: one self-contained page (inline CSS and SVG, nothing fetched) for a reviewer.

Per model: the check table, the error statistics, and three plots -- the worst error of every time step per
call pattern against the tolerance there, a histogram of the element errors, and the latency percentiles
against the budget. Then the memory of all models against the shared budget, and the deltas against the
baseline when the run has one. Every plot is drawn by matplotlib's SVG backend (the ``html`` extra), imported
only here, and sits in a ``<figure class="plot" data-model=… data-chart=…>`` so tests and scripts can find it.

The page is drawn from whatever a schema-valid report holds: every string is escaped (HTML by
:func:`html.escape`, plot labels by :func:`verifier.report.escape.plot_text`, which keeps matplotlib's
mathtext from reading a ``$`` of a file name), and a figure that is missing, of another shape, NaN or
infinite is left out of its plot with a note, never drawn as garbage or raised.
"""

from __future__ import annotations

import html
import io
import itertools
import math
import warnings
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from verifier.checks.results import FAIL, PASS, SKIP, WARN, FileResult, RunResult
from verifier.errors import VerifierError
from verifier.report.escape import plot_text, visible
from verifier.report.figures import finite, mapping, real, reals
from verifier.report.stats import number, place, snr, statistics_rows

CHARTS = ("error-steps", "error-histogram", "latency")
_COLOURS = {
    "frame": "#1f77b4",
    "stream": "#ff7f0e",
    "silence": "#2ca02c",
    "silence_ftz": "#9467bd",
    "budget": "#d62728",
    "tolerance": "#d62728",
}
_STATUS_CLASS = {PASS: "pass", FAIL: "fail", WARN: "warn", SKIP: "skip"}
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;
background:#f6f8fa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:0 0 8px} h3{font-size:15px;margin:16px 0 6px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin:16px 0}
.verdict.fail{color:#cf222e} .verdict.pass{color:#1a7f37}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #eaeef2;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600} td.num{text-align:right;
font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;min-width:38px;text-align:center;border-radius:10px;padding:0 8px;font-size:12px;
font-weight:600} .badge.pass{background:#dafbe1;color:#1a7f37} .badge.fail{background:#ffebe9;color:#cf222e}
.badge.warn{background:#fff8c5;color:#9a6700} .badge.skip{background:#eaeef2;color:#57606a}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:12px;margin-top:12px}
figure.plot{margin:0;border:1px solid #eaeef2;border-radius:6px;padding:6px;background:#fff}
figure.plot svg{width:100%;height:auto;display:block} figcaption{font-size:12px;color:#57606a;padding:2px 4px}
code{font-size:12px} td:first-child code{white-space:nowrap}
footer{color:#57606a;font-size:12px;margin:16px 0}
"""


class HtmlReportError(VerifierError):
    """The HTML report cannot be drawn (matplotlib is not installed)."""


def require_matplotlib() -> None:
    """Raise :class:`HtmlReportError` with the install command when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise HtmlReportError(
            "the HTML report draws its plots with matplotlib, which is not installed: "
            "pip install 'rtneural-verifier[html]'"
        ) from None


# --------------------------------------------------------------------------------------------- plotting


@contextmanager
def _figure(width: float = 4.6, height: float = 2.8) -> Iterator[Any]:
    from matplotlib.figure import Figure

    # A Figure without pyplot: no global backend state, nothing opened on a display.
    with warnings.catch_warnings():
        # A name holding a character the plot font lacks: matplotlib warns while measuring it (for layout),
        # yet the SVG keeps text as text (svg.fonttype none), which the browser draws with its own fonts.
        warnings.filterwarnings("ignore", r"Glyph \d+ .*missing from font", UserWarning)
        yield Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Any) -> str:
    import matplotlib

    buffer = io.StringIO()
    # Text stays text (small, searchable); a fixed hash salt keeps the output identical run to run.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "rtneural-verifier"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _empty(fig: Any, message: str) -> None:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, plot_text(message, 200), ha="center", va="center", wrap=True, color="#57606a")


def _numeric_figures(result: FileResult) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for pattern in ("frame", "stream"):
        check = result.check(f"numeric-{pattern}")
        if check is not None and check.status in (PASS, FAIL) and mapping(check.figures).get("series"):
            found[pattern] = check.figures
    return found


@dataclass(frozen=True)
class _Series:
    """The per-step series of a numeric check: NaN where the report has a NaN, an infinity or a null."""

    steps: list[float]
    errors: list[float]
    allowed: list[float] | None

    def points(self, values: list[float], floor: float = 0.0) -> tuple[list[float], list[float]]:
        """The steps and ``values`` a log axis can show (finite, positive after ``floor``, within
        :func:`on_axis`)."""
        pairs = zip(self.steps, values, strict=True)
        kept = [(x, max(y, floor)) for x, y in pairs if math.isfinite(x) and math.isfinite(y)]
        kept = [(on_axis(x), on_axis(y)) for x, y in kept if y > 0]
        return [x for x, _ in kept], [y for _, y in kept]


#: the largest magnitude drawn (and, on a log axis, the smallest): matplotlib pads an axis's limits by a
#: share of their span, which over 5e-324..1.8e308 on a log axis overflows a double; beyond this a value is
#: drawn at the edge (the tables keep it as it is)
AXIS_MAGNITUDE = 1e150


def on_axis(value: float) -> float:
    """``value`` with its magnitude brought within [1 / AXIS_MAGNITUDE, AXIS_MAGNITUDE] (0 stays 0)."""
    if value == 0:
        return value
    return math.copysign(min(max(abs(value), 1 / AXIS_MAGNITUDE), AXIS_MAGNITUDE), value)


def _series(figures: Mapping[str, Any]) -> _Series | None:
    raw = mapping(figures.get("series"))
    steps, errors = reals(raw.get("steps")), reals(raw.get("max_abs_error"))
    allowed = reals(raw.get("allowed"))
    if not steps or errors is None or len(errors) != len(steps):
        return None
    return _Series(steps, errors, allowed if allowed is not None and len(allowed) == len(steps) else None)


def _error_steps_plot(result: FileResult) -> str:
    numeric = _numeric_figures(result)
    with _figure() as fig:
        series = {p: s for p, f in numeric.items() if (s := _series(f)) is not None}
        errors = [v for s in series.values() for v in s.errors]
        positive = [v for v in errors if math.isfinite(v) and v > 0]
        not_drawn = sum(not math.isfinite(v) for v in errors)
        if not series:
            _empty(fig, "no numeric comparison (see the check table)")
        elif not any(s.points(s.errors, 1.0)[0] for s in series.values()):
            _empty(fig, f"no step with a finite error to draw ({not_drawn} NaN or infinite)")
        else:
            ax = fig.add_subplot()
            # the smallest error / 10 stands for 0 on the log axis (/ 10 may underflow to 0 itself)
            floor = (min(positive) / 10 or min(positive)) if positive else 1e-12
            drawn_tolerance: list[list[float]] = []
            identical = len(series) == 2 and series["frame"] == series["stream"]
            for pattern, s in series.items():
                if identical and pattern == "stream":
                    continue  # the same line twice would hide one of them
                label = "frame = stream error" if identical else f"{pattern} error"
                width = 1.6 if pattern == "frame" else 0.9  # stream drawn thinner, on top: both stay visible
                ax.plot(*s.points(s.errors, floor), color=_COLOURS[pattern], lw=width, label=label)
                if s.allowed is not None and s.allowed not in drawn_tolerance:
                    drawn_tolerance.append(s.allowed)
                    ax.plot(
                        *s.points(s.allowed),
                        color=_COLOURS["tolerance"],
                        ls="--",
                        lw=1.0,
                        label="tolerance" if len(drawn_tolerance) == 1 else f"tolerance ({pattern})",
                    )
            ax.set_yscale("log")
            ax.set_xlabel("time step")
            ax.set_ylabel("max |error| in the step")
            ax.grid(True, which="major", alpha=0.3)
            _legend(fig)
            notes = ["outputs identical (error 0)"] if not positive and not not_drawn else []
            if not_drawn:
                notes.append(f"{not_drawn} step errors NaN or infinite, not drawn")
            if notes:
                ax.set_title("; ".join(notes), fontsize=9)
        return _svg(fig)


def _histogram(figures: Mapping[str, Any]) -> tuple[list[float], list[float]] | None:
    """Counts and edges a log axis can show (finite, edges positive and increasing), else None."""
    raw = mapping(mapping(figures.get("series")).get("histogram"))
    counts, edges = reals(raw.get("counts")), reals(raw.get("edges"))
    if not counts or edges is None or len(edges) != len(counts) + 1:
        return None
    if not all(math.isfinite(c) and c >= 0 for c in counts) or not all(math.isfinite(e) for e in edges):
        return None
    if edges[0] <= 0 or any(b <= a for a, b in itertools.pairwise(edges)):
        return None
    return [on_axis(c) for c in counts], [on_axis(e) for e in edges]


def _histogram_plot(result: FileResult) -> str:
    numeric = _numeric_figures(result)
    with _figure() as fig:
        hists = {p: h for p, f in numeric.items() if (h := _histogram(f)) is not None}
        if not hists:
            _empty(fig, "no error to histogram" if numeric else "no numeric comparison")
        else:
            ax = fig.add_subplot()
            identical = len(hists) == 2 and hists["frame"] == hists["stream"]
            for pattern, h in hists.items():
                if identical and pattern == "stream":
                    continue
                label = "frame = stream" if identical else pattern
                width = 1.8 if pattern == "frame" else 1.0
                ax.stairs(h[0], h[1], color=_COLOURS[pattern], lw=width, label=label)
            atol = finite(next(iter(numeric.values())).get("atol"))
            if atol is not None and atol > 0:
                ax.axvline(
                    on_axis(atol), color=_COLOURS["tolerance"], ls="--", lw=1.0, label=f"atol {atol:g}"
                )
            ax.set_xscale("log")
            ax.set_xlabel("|error| of an element")
            ax.set_ylabel("elements")
            ax.grid(True, alpha=0.3)
            _legend(fig)
        return _svg(fig)


def _latency_us(value: Any) -> dict[str, float] | None:
    """min (p50 where not given: the plugin's file has none), max, p50 and p99 of one call pattern in µs,
    when all are positive and finite (a log axis)."""
    lat = mapping(value)
    found = {key: finite(lat.get(f"{key}_ns")) for key in ("max", "p50", "p99")}
    found["min"] = finite(lat.get("min_ns", lat.get("p50_ns")))
    us = {key: ns / 1000 for key, ns in found.items() if ns is not None}
    return us if len(us) == len(found) and all(v > 0 for v in us.values()) else None


_LATENCY_PATTERNS = {
    "frame": "frame\n(reset each)",
    "stream": "stream",
    "silence": "silence\nafter signal",
    "silence_ftz": "silence\nflush-to-zero",
}
# Figures shown beside the measured runtime's: RTNeural's dynamic model, the plugin's own build.
_LATENCY_SOURCES = (("", None), ("RTNeural ", "rtneural"), ("plugin ", "plugin"))


def _latency_rows(figures: Mapping[str, Any]) -> list[tuple[str, str, dict[str, float]]]:
    """(label, pattern, µs figures) of every pattern of every source the check measured or was given."""
    rows = []
    for prefix, key in _LATENCY_SOURCES:
        source = figures if key is None else mapping(figures.get(key))
        if key == "plugin":
            source = mapping(source.get("figures"))
        for pattern, label in _LATENCY_PATTERNS.items():
            if (us := _latency_us(source.get(pattern))) is not None:
                rows.append((prefix + label, pattern, us))
    return rows


def _latency_plot(result: FileResult) -> str:
    check = result.check("latency")
    figures = mapping(check.figures) if check is not None else {}
    rows = _latency_rows(figures)
    with _figure(height=max(2.2, 0.45 * len(rows) + 0.8)) as fig:
        if not rows:
            _empty(fig, f"latency not measured: {check.summary if check else 'no latency check'}")
            return _svg(fig)
        ax = fig.add_subplot()
        for row, (_, pattern, lat) in enumerate(rows):
            ax.plot([lat["min"], lat["max"]], [row, row], color="#8c959f", lw=1.0)
            ax.plot(lat["p50"], row, "o", color=_COLOURS[pattern], label="p50" if row == 0 else None)
            ax.plot(lat["p99"], row, "D", color="#24292f", ms=5, label="p99" if row == 0 else None)
        budget = finite(figures.get("budget_p99_ns"))
        if budget is not None and budget / 1000 > 0:
            ax.axvline(
                budget / 1000, color=_COLOURS["budget"], ls="--", lw=1.2, label=f"budget {budget / 1e6:g} ms"
            )
        ax.set_yticks(range(len(rows)), [label for label, _, _ in rows])
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_xscale("log")
        ax.set_xlabel("µs per inference (line: min to max)")
        ax.grid(True, axis="x", alpha=0.3)
        _legend(fig)
        return _svg(fig)


def model_plots(result: FileResult, charts: Collection[str] = CHARTS) -> list[tuple[str, str, str]]:
    """(chart, caption, SVG) of the plots of one model's section that ``charts`` names, in the page's order
    (the pytest plugin attaches them to its items for pytest-html)."""
    require_matplotlib()
    drawn = (
        ("error-steps", "worst error per time step vs tolerance", _error_steps_plot),
        ("error-histogram", "distribution of element errors", _histogram_plot),
        ("latency", "latency percentiles vs budget", _latency_plot),
    )
    return [(chart, caption, draw(result)) for chart, caption, draw in drawn if chart in charts]


def _bytes(value: Any) -> float | None:
    number = finite(value)
    return number if number is not None and number >= 0 else None


def memory_plot(run: RunResult) -> str:
    """The memory of every model against the shared budget, as SVG."""
    require_matplotlib()
    total = next((c for c in run.suite if c.name == "memory-total"), None)
    by_model: dict[str, float] = {}
    budget = None
    total_figures = mapping(total.figures) if total is not None else {}
    if mapping(total_figures.get("by_model")):
        held = {str(k): _bytes(v) for k, v in mapping(total_figures.get("by_model")).items()}
        by_model = {k: v for k, v in held.items() if v is not None}
        budget = _bytes(total_figures.get("budget_bytes"))
        budget = budget if budget is not None and budget >= 1 else None  # a line at 0 MiB shows nothing
    else:
        for f in run.files:
            memory = f.check("memory")
            held_bytes = _bytes(mapping(memory.figures).get("bytes_held")) if memory is not None else None
            if held_bytes is not None:
                by_model[f.model or f.path] = held_bytes
    mib = [v / 2**20 for v in by_model.values()]
    right = max(sum(mib), (budget or 0) / 2**20) * 1.22
    with _figure(width=9.0, height=1.3 + 0.22 * len(by_model)) as fig:
        if not by_model:
            _empty(fig, "no memory figures (no file loaded)")
            return _svg(fig)
        if not math.isfinite(right) or right > AXIS_MAGNITUDE:  # see AXIS_MAGNITUDE
            _empty(fig, "memory figures too large to draw (see the checks)")
            return _svg(fig)
        ax = fig.add_subplot()
        names = list(by_model)
        colours = [f"C{i % 10}" for i in range(len(names))]
        ax.barh(range(len(names)), mib, color=colours)
        # The last bar stacks the models in the same colours: how the total is made up, against the budget.
        starts = [sum(mib[:i]) for i in range(len(names))]
        ax.barh([len(names)] * len(names), mib, left=starts, color=colours, edgecolor="white")
        total_mib = sum(mib)
        ax.set_yticks(range(len(names) + 1), [*(plot_text(n) for n in names), "all together"])
        if budget:
            ax.axvline(
                budget / 2**20,
                color=_COLOURS["budget"],
                ls="--",
                lw=1.2,
                label=f"budget {budget / 2**20:g} MiB",
            )
            over = total_mib / (budget / 2**20) - 1
            note = f"{total_mib:.2f} MiB: {abs(over):.1%} {'over' if over > 0 else 'under'} the budget"
        else:
            note = f"{total_mib:.2f} MiB"
        ax.annotate(
            note, (total_mib, len(names)), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8
        )
        ax.set_xlim(0, right or 1.0)
        ax.invert_yaxis()
        ax.set_xlabel("MiB held by the engine")
        ax.grid(True, axis="x", alpha=0.3)
        if budget:
            _legend(fig)
        return _svg(fig)


def _legend(fig: Any) -> None:
    """Above the axes, never over the data."""
    fig.legend(loc="outside upper center", ncols=4, fontsize=7, frameon=False)


# --------------------------------------------------------------------------------------------- the page


def _e(text: Any) -> str:
    return html.escape(visible(text), quote=True)


def _badge(status: str) -> str:
    return f'<span class="badge {_STATUS_CLASS[status]}">{_e(status)}</span>'


def _plot(model: str, chart: str, caption: str, svg: str) -> str:
    return (
        f'<figure class="plot" data-model="{_e(model)}" data-chart="{_e(chart)}">{svg}'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _check_table(result: FileResult) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(c.name)}</code></td><td>{_badge(c.status)}</td><td>{_e(c.summary)}</td></tr>"
        for c in result.checks
    )
    return f"<table><tr><th>check</th><th>result</th><th>details</th></tr>{rows}</table>"


def _stats_table(run: RunResult, result: FileResult) -> str:
    rows = [r for r in statistics_rows(run) if r.path == result.path]
    if not rows:
        return ""
    cells = []
    for r in rows:
        s, a, rel = r.stats, mapping(r.stats.get("abs")), mapping(r.stats.get("rel"))
        values = [a.get("max"), a.get("mean"), a.get("median"), a.get("p99"), rel.get("max"), rel.get("p99")]
        cells.append(
            f"<tr><td>{_e(r.pattern)}</td>"
            + "".join(f'<td class="num">{number(v)}</td>' for v in values)
            + f'<td>{_e(place(s.get("worst_abs_at")))}</td><td class="num">{number(s.get("min_atol"))}</td>'
            f'<td class="num">{number(s.get("min_rtol"))}</td><td class="num">{_e(snr(s))}</td>'
            f'<td class="num">{r.atol:g} / {r.rtol:g}</td></tr>'
        )
    head = (
        "<tr><th>call</th><th>abs max</th><th>abs mean</th><th>abs median</th><th>abs p99</th>"
        "<th>rel max</th><th>rel p99</th><th>worst at</th><th>min atol</th><th>min rtol</th><th>SNR</th>"
        "<th>atol / rtol</th></tr>"
    )
    return f"<h3>Error statistics</h3><table>{head}{''.join(cells)}</table>"


def _reference(result: FileResult) -> str:
    summary = mapping(result.reference).get("summary")
    return f'<p class="reference">reference: {_e(summary)}</p>' if summary else ""


def _model_section(run: RunResult, result: FileResult) -> str:
    name = result.model or result.path
    verdict = FAIL if result.failed else PASS
    plots = "".join(_plot(name, chart, caption, svg) for chart, caption, svg in model_plots(result))
    return (
        f'<section class="model" data-model="{_e(name)}"><h2>{_badge(verdict)} {_e(name)} '
        f"<code>{_e(result.path)}</code></h2>{_reference(result)}{_check_table(result)}"
        f"{_stats_table(run, result)}"
        f'<div class="plots">{plots}</div></section>'
    )


def _delta(before: Any, now: Any) -> str:
    old, new = real(before), real(now)
    if old is None or new is None:
        return "—"
    if old == 0:
        return "±0" if new == 0 else "new"
    return f"{100 * (new / old - 1):+.1f}%"


def _baseline_section(run: RunResult) -> str:
    rows = []
    labels = {
        "parameters": "parameters (JSON)",
        "numeric-frame": "max abs error, frame",
        "numeric-stream": "max abs error, stream",
        "latency_frame_p50_ns": "p50 latency ns, frame",
        "latency_stream_p50_ns": "p50 latency ns, stream",
        "latency_silence_p50_ns": "p50 latency ns, silence after signal",
    }
    for f in run.files:
        check = f.check("baseline")
        if check is None:
            continue
        for key, label in labels.items():
            pair = mapping(check.figures).get(key)
            if not isinstance(pair, Mapping):
                continue
            rows.append(
                f"<tr><td>{_e(f.model or f.path)}</td><td>{_e(label)}</td>"
                f'<td class="num">{_e(_fmt(pair.get("before")))}</td>'
                f'<td class="num">{_e(_fmt(pair.get("now")))}</td>'
                f'<td class="num">{_delta(pair.get("before"), pair.get("now"))}</td>'
                f"<td>{_badge(check.status)}</td></tr>"
            )
    if not rows:
        return ""
    return (
        '<section id="baseline"><h2>Against the baseline '
        f"<code>{_e(run.settings.get('baseline') or '')}</code></h2>"
        "<table><tr><th>model</th><th>figure</th><th>baseline</th><th>now</th><th>change</th>"
        f"<th>verdict</th></tr>{''.join(rows)}</table></section>"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _summary_section(run: RunResult) -> str:
    rows = "".join(
        f"<tr><td>{_e(f.model or '—')}</td><td><code>{_e(f.path)}</code></td>"
        f"<td>{_badge(FAIL if f.failed else PASS)}</td>"
        f"<td>{_e(', '.join(c.name for c in f.checks if c.failed) or '—')}</td></tr>"
        for f in run.files
    )
    suite = "".join(
        f"<tr><td><code>{_e(c.name)}</code></td><td>{_badge(c.status)}</td><td>{_e(c.summary)}</td></tr>"
        for c in run.suite
    )
    suite_table = (
        "<h3>All models together</h3><table><tr><th>check</th><th>result</th><th>details</th></tr>"
        f"{suite}</table>"
        if suite
        else ""
    )
    return (
        '<section id="summary"><h2>Files</h2><table><tr><th>model</th><th>file</th><th>result</th>'
        f"<th>failing checks</th></tr>{rows}</table>{suite_table}"
        '<h3>Memory</h3><div class="plots">'
        f"{_plot('all', 'memory', 'memory held vs budget', memory_plot(run))}</div></section>"
    )


def format_html(run: RunResult) -> str:
    """The whole page as one string."""
    require_matplotlib()
    counts = run.counts()
    verdict = FAIL if run.failed else PASS
    title = "checks failed" if run.failed else "all checks passed"
    tool, machine = run.tool, run.machine
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>rtneural-verifier: {title}</title><style>{_CSS}</style></head><body><main>",
        f'<header><h1 class="verdict {verdict}">rtneural-verifier: {title}</h1>',
        f"<p>{len(run.files)} file(s); {counts[PASS]} checks passed, {counts[FAIL]} failed, "
        f"{counts[WARN]} warnings, {counts[SKIP]} skipped. dtype {_e(run.settings.get('dtype', '?'))}, "
        f"{_e(run.settings.get('steps', '?'))} steps, seed {_e(run.settings.get('seed', '?'))}.</p></header>",
        _summary_section(run),
        _baseline_section(run),
        *(_model_section(run, f) for f in run.files),
        f"<footer>{_e(tool.get('name', 'rtneural-verifier'))} {_e(tool.get('version', ''))} · backend "
        f"{_e(tool.get('backend', '?'))} · {_e(machine.get('cpu', '?'))}, "
        f"{_e(machine.get('cores_logical', '?'))} cores · Python {_e(machine.get('python', '?'))}</footer>",
        "</main></body></html>\n",
    ]
    return "".join(parts)
