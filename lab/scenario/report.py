"""Reports of a run: JUnit XML (one test case per step, for CI), JSON (everything), Markdown (the
timeline a human reads, with evidence excerpts; the image set named at the top)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab.availability import Availability, PathAvailability
from lab.scenario.engine import RunResult, ScenarioResult, StepRecord
from lab.scenario.model import DataSnapshot, Evidence, Verdict

JSON_SCHEMA_ID = "rhdemo-lab/scenario-report/v1"
JUNIT_FILE, JSON_FILE, MARKDOWN_FILE = "scenarios.junit.xml", "scenarios.json", "scenarios.md"
EXCERPT_LINES = 15

GLYPH = {Verdict.PASSED: "✓", Verdict.REPRODUCED: "⚠", Verdict.DEVIATION: "✗", Verdict.SKIPPED: "–"}
LABEL = {Verdict.PASSED: "passed", Verdict.REPRODUCED: "expected failure reproduced",
         Verdict.DEVIATION: "deviation", Verdict.SKIPPED: "skipped"}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def excerpt(text: str, lines: int = EXCERPT_LINES) -> str:
    """The last lines of a text (a failure is at the end of a log)."""
    all_lines = text.rstrip().splitlines()
    if len(all_lines) <= lines:
        return "\n".join(all_lines)
    return "\n".join([f"[... {len(all_lines) - lines} earlier lines]"] + all_lines[-lines:])


def one_line(evidence: Evidence) -> str:
    lines = [line.strip() for line in evidence.text.splitlines() if line.strip()]
    return f"{evidence.kind} {evidence.source}: {lines[-1] if lines else '(empty)'}"


def clean(text: str) -> str:
    """No terminal colours, no characters XML 1.0 forbids."""
    return _XML_ILLEGAL.sub("", _ANSI.sub("", text))


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def _failed_text(failed: int, failures: Mapping[str, int]) -> str:
    kinds = ", ".join(f"{kind} ×{count}" for kind, count in failures.items())
    return f"{failed} failed" + (f" ({kinds})" if kinds else "")


def _when(first: float | None, last: float | None) -> str:
    return "" if first is None else f", failing from {first:.1f}s to {last or first:.1f}s"


def availability_short(figures: Availability) -> str:
    """One cell: `412 req · 0 failed · gap 0.4s`."""
    return f"{figures.requests} req · {figures.failed} failed · gap {figures.longest_gap_s:.1f}s"


def availability_lines(figures: Availability) -> list[str]:
    """The figures as a human reads them: the totals, then one line per probed path."""
    head = (f"{figures.requests} requests in {figures.window_s:.1f}s ({figures.rate:g}/s per path), "
            f"{_failed_text(figures.failed, figures.failures)}, longest gap without a success "
            f"{figures.longest_gap_s:.1f}s, p95 {_ms(figures.p95_ms)}")
    if figures.reconnects:
        head += f", port-forward reopened {figures.reconnects}×"

    def path_line(part: PathAvailability) -> str:
        return (f"GET {part.path}: {part.requests} requests, {_failed_text(part.failed, part.failures)}"
                f"{_when(part.first_failure_s, part.last_failure_s)}, longest gap {part.longest_gap_s:.1f}s, "
                f"p95 {_ms(part.p95_ms)}")

    return [head, *(path_line(part) for part in figures.paths)]


def failure_text(record: StepRecord) -> str:
    """Every mismatching field, then the diagnostics: what a deviation shows."""
    parts = [f"{check.what}: expected {check.expected}; observed {check.observed}" for check in record.failed_checks]
    for item in record.diagnostics:
        parts.append(f"--- {item.kind} {item.source}\n{excerpt(item.text)}")
    return "\n".join(parts)


# ---- JSON ------------------------------------------------------------------------------------
def _snapshot(snapshot: DataSnapshot | None) -> dict[str, Any] | None:
    return None if snapshot is None else {"rows": snapshot.rows, "checksum": snapshot.checksum}


def _evidence(item: Evidence) -> dict[str, Any]:
    return {"kind": item.kind, "source": item.source, "text": clean(item.text), "fields": dict(item.fields)}


def _path_figures(part: PathAvailability) -> dict[str, Any]:
    return {"path": part.path, "requests": part.requests, "failed": part.failed, "failures": dict(part.failures),
            "longest_gap_s": part.longest_gap_s, "p95_ms": part.p95_ms,
            "first_failure_s": part.first_failure_s, "last_failure_s": part.last_failure_s}


def _availability(figures: Availability | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    return {"window_s": figures.window_s, "rate_per_path": figures.rate, "requests": figures.requests,
            "failed": figures.failed, "failures": dict(figures.failures), "longest_gap_s": figures.longest_gap_s,
            "p95_ms": figures.p95_ms, "first_failure_s": figures.first_failure_s,
            "last_failure_s": figures.last_failure_s, "reconnects": figures.reconnects,
            "paths": [_path_figures(part) for part in figures.paths]}


def _record(record: StepRecord) -> dict[str, Any]:
    return {
        "phase": record.phase, "number": record.number, "label": record.label, "title": record.title,
        "why": record.why, "action": record.action, "replay": record.replay, "expect": record.expect,
        "verdict": record.verdict.value, "started_at": record.started_at, "duration_s": round(record.duration, 3),
        "summary": clean(record.summary),
        "checks": [{"what": c.what, "expected": c.expected, "observed": clean(c.observed), "ok": c.ok} for c in record.checks],
        "evidence": [_evidence(e) for e in record.evidence],
        "diagnostics": [_evidence(e) for e in record.diagnostics],
        "data": None if record.data is None else {
            "before": _snapshot(record.data.before), "after": _snapshot(record.data.after),
            "ok": record.data.ok, "note": record.data.note},
        "availability": _availability(record.availability),
    }


def to_dict(run: RunResult) -> dict[str, Any]:
    return {
        "schema": JSON_SCHEMA_ID,
        "image_set": run.image_set,
        "started_at": run.started_at,
        "duration_s": round(run.duration, 3),
        "interrupted": run.interrupted,
        "exit_code": run.exit_code,
        "scenarios": [{
            "id": s.id, "title": s.title, "summary": s.summary, "seed": s.seed, "namespace": s.namespace,
            "release": s.release, "verdict": s.verdict.value, "started_at": s.started_at,
            "duration_s": round(s.duration, 3), "kept": s.kept, "stopped": s.stopped,
            "steps": [_record(r) for r in s.records],
        } for s in run.scenarios],
    }


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or list(properties),
            "additionalProperties": False}


_STR, _NUM, _BOOL, _INT = {"type": "string"}, {"type": "number", "minimum": 0}, {"type": "boolean"}, {"type": "integer"}
_EVIDENCE = _object({"kind": _STR, "source": _STR, "text": _STR, "fields": {"type": "object", "additionalProperties": _STR}})
_SNAPSHOT = {"oneOf": [{"type": "null"}, _object({"rows": {"type": "integer", "minimum": 0}, "checksum": _STR})]}
_VERDICTS = {"enum": [v.value for v in Verdict]}
_COUNT = {"type": "integer", "minimum": 0}
_NUMBER_OR_NULL = {"oneOf": [{"type": "null"}, _NUM]}
_FAILURES = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}}
_PATH_FIGURES = _object({"path": _STR, "requests": _COUNT, "failed": _COUNT, "failures": _FAILURES,
                         "longest_gap_s": _NUM, "p95_ms": _NUMBER_OR_NULL, "first_failure_s": _NUMBER_OR_NULL,
                         "last_failure_s": _NUMBER_OR_NULL})
_AVAILABILITY = {"oneOf": [{"type": "null"}, _object({
    "window_s": _NUM, "rate_per_path": _NUM, "requests": _COUNT, "failed": _COUNT, "failures": _FAILURES,
    "longest_gap_s": _NUM, "p95_ms": _NUMBER_OR_NULL, "first_failure_s": _NUMBER_OR_NULL,
    "last_failure_s": _NUMBER_OR_NULL, "reconnects": _COUNT, "paths": {"type": "array", "items": _PATH_FIGURES}})]}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": JSON_SCHEMA_ID,
    **_object({
        "schema": {"const": JSON_SCHEMA_ID}, "image_set": _STR, "started_at": _STR, "duration_s": _NUM,
        "interrupted": _BOOL, "exit_code": _INT,
        "scenarios": {"type": "array", "items": _object({
            "id": _STR, "title": _STR, "summary": _STR, "seed": {"type": "array", "items": _STR},
            "namespace": _STR, "release": _STR, "verdict": _VERDICTS, "started_at": _STR, "duration_s": _NUM,
            "kept": _BOOL, "stopped": _STR,
            "steps": {"type": "array", "items": _object({
                "phase": {"enum": ["setup", "step", "cleanup"]}, "number": {"type": "integer", "minimum": 1},
                "label": _STR, "title": _STR, "why": _STR, "action": _STR, "replay": {"type": "array", "items": _STR},
                "expect": _STR, "verdict": _VERDICTS, "started_at": _STR, "duration_s": _NUM, "summary": _STR,
                "checks": {"type": "array", "items": _object({"what": _STR, "expected": _STR, "observed": _STR, "ok": _BOOL})},
                "evidence": {"type": "array", "items": _EVIDENCE},
                "diagnostics": {"type": "array", "items": _EVIDENCE},
                "data": {"oneOf": [{"type": "null"}, _object({"before": _SNAPSHOT, "after": _SNAPSHOT, "ok": _BOOL, "note": _STR})]},
                "availability": _AVAILABILITY,
            })},
        })},
    }),
}


# ---- JUnit -----------------------------------------------------------------------------------
def _property(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "property", name=name, value=clean(value))


def _testcase(suite: ET.Element, scenario: ScenarioResult, record: StepRecord) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"scenarios.{scenario.id}",
                         name=f"{record.label.rjust(2, '0')} {record.title}", time=f"{record.duration:.3f}")
    properties = ET.SubElement(case, "properties")
    _property(properties, "verdict", record.verdict.value)
    _property(properties, "expect", record.expect)
    for number, command in enumerate(record.replay, 1):
        _property(properties, f"replay.{number}", command)
    for number, item in enumerate(record.evidence, 1):
        _property(properties, f"evidence.{number}", one_line(item))
    if record.data is not None:
        _property(properties, "employes", record.data.note)
    if record.availability is not None:
        figures = record.availability
        for name, value in (("requests", figures.requests), ("failed", figures.failed),
                            ("failures", ", ".join(f"{k}={v}" for k, v in figures.failures.items())),
                            ("longest_gap_s", f"{figures.longest_gap_s:.3f}"),
                            ("p95_ms", "" if figures.p95_ms is None else f"{figures.p95_ms:.1f}"),
                            ("window_s", f"{figures.window_s:.3f}")):
            _property(properties, f"availability.{name}", str(value))
        for number, line in enumerate(availability_lines(figures)[1:], 1):
            _property(properties, f"availability.path.{number}", line)
    if record.verdict is Verdict.DEVIATION:
        first = record.failed_checks[0] if record.failed_checks else None
        message = f"{first.what}: expected {first.expected}; observed {first.observed}" if first else "deviation"
        failure = ET.SubElement(case, "failure", message=clean(message), type="deviation")
        failure.text = clean(failure_text(record))
    elif record.verdict is Verdict.SKIPPED:
        ET.SubElement(case, "skipped", message=clean(record.summary or "not run"))
    out = [record.why, *(f"$ {command}" for command in record.replay)]
    out += [f"--- {item.kind} {item.source}\n{excerpt(item.text)}" for item in record.evidence]
    ET.SubElement(case, "system-out").text = clean("\n".join(part for part in out if part))


def to_junit(run: RunResult) -> ET.ElementTree:
    def counts(records: list[StepRecord]) -> dict[str, str]:
        return {"tests": str(len(records)),
                "failures": str(sum(r.verdict is Verdict.DEVIATION for r in records)),
                "errors": "0",
                "skipped": str(sum(r.verdict is Verdict.SKIPPED for r in records))}

    every = [r for s in run.scenarios for r in s.records]
    root = ET.Element("testsuites", {"name": "rhdemo-lab scenarios", "time": f"{run.duration:.3f}", **counts(every)})
    for scenario in run.scenarios:
        suite = ET.SubElement(root, "testsuite", {"name": scenario.id, "timestamp": scenario.started_at,
                                                  "time": f"{scenario.duration:.3f}", **counts(scenario.records)})
        properties = ET.SubElement(suite, "properties")
        for name, value in (("title", scenario.title), ("seed", ", ".join(scenario.seed)),
                            ("namespace", scenario.namespace), ("release", scenario.release),
                            ("image_set", run.image_set), ("kept", str(scenario.kept).lower())):
            _property(properties, name, value)
        for record in scenario.records:
            _testcase(suite, scenario, record)
    ET.indent(root)
    return ET.ElementTree(root)


# ---- Markdown --------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return clean(text).replace("|", "\\|").replace("\n", " ")


def _fence(text: str, language: str = "text") -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{clean(text)}\n{fence}"


def _rows(record: StepRecord) -> str:
    if record.data is None:
        return ""
    before, after = record.data.before, record.data.after
    text = f"{'–' if before is None else before.rows} → {'–' if after is None else after.rows}"
    return text if record.data.ok else f"**{record.data.note}**"


def _scenario_markdown(scenario: ScenarioResult) -> list[str]:
    lines = [f"## {scenario.id} — {scenario.title}", "",
             f"{scenario.summary}", "",
             f"Seed: {', '.join(scenario.seed)} · namespace `{scenario.namespace}` · release `{scenario.release}` · "
             f"{GLYPH[scenario.verdict]} **{LABEL[scenario.verdict]}** in {duration_text(scenario.duration)}"
             + (f" · stopped: {scenario.stopped}" if scenario.stopped else "")
             + (" · namespace kept" if scenario.kept else ""), "",
             "| # | step | expectation | verdict | duration | employes rows | availability |",
             "|---|---|---|---|---|---|---|"]
    for r in scenario.records:
        lines.append(f"| {r.label} | {_cell(r.title)} | {_cell(r.expect)} | {GLYPH[r.verdict]} {LABEL[r.verdict]} | "
                     f"{duration_text(r.duration)} | {_cell(_rows(r))} | "
                     f"{availability_short(r.availability) if r.availability else ''} |")
    lines.append("")
    for r in scenario.records:
        if r.phase != "step" and r.verdict is not Verdict.DEVIATION:
            continue
        lines += [f"### {r.label}. {r.title} — {GLYPH[r.verdict]} {LABEL[r.verdict]}", ""]
        if r.why:
            lines += [f"> {r.why}", ""]
        if r.replay:
            lines += [_fence("\n".join(f"$ {c}" for c in r.replay), "console"), ""]
        lines += [f"Expected: {r.expect}" + (f" · action: {clean(r.summary)}" if r.summary else ""), ""]
        for check in r.checks:
            lines.append(f"- {'✓' if check.ok else '✗'} **{_cell(check.what)}** — expected {_cell(check.expected)}; observed {_cell(check.observed)}")
        if r.checks:
            lines.append("")
        if r.availability is not None:
            first, *paths = availability_lines(r.availability)
            lines += [f"Availability: {_cell(first)}", "", *(f"- {_cell(line)}" for line in paths), ""]
        for item in r.evidence:
            lines += [f"Evidence — {item.kind} `{item.source}`:", "", _fence(excerpt(item.text)), ""]
        for item in r.diagnostics:
            lines += [f"Diagnostics — {item.kind} `{item.source}`:", "", _fence(excerpt(item.text)), ""]
    return lines


def to_markdown(run: RunResult) -> str:
    verdict = "deviation" if run.deviations else ("interrupted" if run.interrupted else "all as expected")
    lines = ["# rhdemo-lab scenario report", "",
             f"Image set: **{run.image_set or 'unknown'}** · started {run.started_at} · {duration_text(run.duration)} · "
             f"result: **{verdict}** (exit {run.exit_code})", "",
             "| scenario | verdict | passed | failures reproduced | deviations | skipped | duration |",
             "|---|---|---|---|---|---|---|"]
    for s in run.scenarios:
        lines.append(f"| {s.id} | {GLYPH[s.verdict]} {LABEL[s.verdict]} | {s.count(Verdict.PASSED)} | {s.count(Verdict.REPRODUCED)} | "
                     f"{s.count(Verdict.DEVIATION)} | {s.count(Verdict.SKIPPED)} | {duration_text(s.duration)} |")
    lines.append("")
    for s in run.scenarios:
        lines += _scenario_markdown(s)
    return "\n".join(lines).rstrip() + "\n"


def write_reports(run: RunResult, directory: Path) -> list[Path]:
    """Writes the three reports; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    junit, data, markdown = directory / JUNIT_FILE, directory / JSON_FILE, directory / MARKDOWN_FILE
    to_junit(run).write(junit, encoding="utf-8", xml_declaration=True)
    data.write_text(json.dumps(to_dict(run), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    markdown.write_text(to_markdown(run), encoding="utf-8")
    return [junit, data, markdown]


# ---- durations (benchmark) -------------------------------------------------------------------
def durations(report: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(scenario id, verdict, seconds) from a JSON report, slowest first."""
    rows = [(s["id"], s["verdict"], float(s["duration_s"])) for s in report["scenarios"]]
    return sorted(rows, key=lambda row: row[2], reverse=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m lab.scenario.report scenarios.json`: each scenario's duration, slowest first, and the total."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m lab.scenario.report <scenarios.json>", file=sys.stderr)
        return 2
    try:
        report = json.loads(Path(args[0]).read_text(encoding="utf-8"))
        rows = durations(report)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"cannot read the scenario report {args[0]}: {error}", file=sys.stderr)
        return 2
    width = max((len(row[0]) for row in rows), default=8)
    for scenario_id, verdict, seconds in rows:
        print(f"{scenario_id.ljust(width)}  {duration_text(seconds).rjust(7)}  {verdict}")
    print(f"{'total'.ljust(width)}  {duration_text(float(report['duration_s'])).rjust(7)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
