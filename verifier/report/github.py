"""``--format github``: GitHub Actions workflow commands, one annotation per located problem.

``::error file=F,line=L,col=C,title=RULE::message`` puts the message on the line of the file in the pull
request's diff; a problem without a line (a failing numeric check) is annotated on the file. The Markdown
report for the job summary is written by the CLI (``$GITHUB_STEP_SUMMARY``), not here: formatting never
touches the environment.
"""

from __future__ import annotations

from verifier.checks.results import RunResult
from verifier.report.escape import visible
from verifier.report.locations import Located, run_locations

_COMMAND = {"error": "error", "warning": "warning", "note": "notice"}


def _escape_data(text: str) -> str:
    # The runner decodes %25, %0D and %0A (a message may span lines); any other control character is shown
    # as its escape, so nothing in a message ends the command or reaches the log as a terminal sequence.
    return visible(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    # ":" and "," end a property (``file=a,b`` would be the file "a"): a path or rule holding them is kept.
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(loc: Located) -> str:
    """One workflow command for ``loc``."""
    props = [f"file={_escape_property(loc.path)}"] if loc.path else []
    if loc.line is not None:
        props += [f"line={loc.line}", f"col={loc.column or 1}"]
    props.append(f"title={_escape_property(loc.rule)}")
    return f"::{_COMMAND[loc.level]} {','.join(props)}::{_escape_data(loc.message)}"


def format_github(run: RunResult) -> str:
    """Every annotation, then the one-line verdict (plain text in the log)."""
    from verifier.report.formats import counts_line

    lines = [annotation(loc) for loc in run_locations(run)]
    lines.append(counts_line(run))
    return "\n".join(lines) + "\n"
