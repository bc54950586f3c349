"""Rich rendering of a run, stage by stage like kind: a line per step with ✓ (passed),
⚠ (the seed's failure reproduced, as expected), ✗ (deviation); the narration indented, the replay
commands dimmed, the evidence boxed. A deviation lists every mismatching field, then diagnostics."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich import box
from rich.console import Console, RenderableType
from rich.live import Live
from rich.padding import Padding
from rich.panel import Panel
from rich.status import Status
from rich.table import Table
from rich.text import Text

from lab.scenario.context import ScenarioContext
from lab.scenario.engine import STEP, RunOptions, RunResult, ScenarioResult, StepRecord
from lab.scenario.model import Evidence, Scenario, Verdict
from lab.scenario.report import GLYPH, LABEL, availability_lines, duration_text, excerpt

STYLE = {Verdict.PASSED: "green", Verdict.REPRODUCED: "yellow", Verdict.DEVIATION: "bold red", Verdict.SKIPPED: "dim"}
SHORT = {Verdict.PASSED: "passed", Verdict.REPRODUCED: "reproduced", Verdict.DEVIATION: "deviating", Verdict.SKIPPED: "skipped"}
INDENT = 5
QUIET_EXCERPT_LINES = 6  # evidence of a step that went as expected: just the tail


def _indented(renderable: RenderableType, extra: int = 0) -> Padding:
    return Padding(renderable, (0, 0, 0, INDENT + extra), expand=False)


class ConsoleObserver:
    def __init__(self, console: Console | None = None, interactive: bool | None = None) -> None:
        self.console = console or Console(highlight=False)
        # Pausing needs someone at a terminal to press Enter.
        self.interactive = sys.stdin.isatty() and self.console.is_terminal if interactive is None else interactive
        self._status: Status | None = None
        self._parallel = False
        self._live: Live | None = None  # with --jobs: one line per running scenario

    # ---- run and scenario ----------------------------------------------------------------------
    def run_started(self, scenarios: Sequence[Scenario], options: RunOptions) -> None:
        self._parallel = options.jobs > 1 and len(scenarios) > 1
        flags = [name for name, on in (("pause", options.pause), ("keep", options.keep), ("fail-fast", options.fail_fast)) if on]
        if self._parallel:
            flags.append(f"{options.jobs} at once, each shown whole when it ends")
        head = Text.assemble(("Scenarios: ", "bold"), ", ".join(s.id for s in scenarios))
        if flags:
            head.append(f"  ({', '.join(flags)})", style="dim")
        self.console.print(head)

    def scenario_started(self, scenario: Scenario, ctx: ScenarioContext) -> None:
        self.console.print()
        self.console.rule(Text(f"{scenario.id} — {scenario.title}", style="bold"), align="left")
        self.console.print(Text.assemble(" ", (scenario.summary, "italic")))
        self.console.print(Text(f" seed: {' · '.join(scenario.seed)}   namespace {ctx.namespace}   "
                                f"release {ctx.release}   image set {ctx.image_set}", style="dim"))

    def scenario_finished(self, result: ScenarioResult) -> None:
        self._stop_status()
        counts = " · ".join(f"{result.count(v)} {SHORT[v]}" for v in Verdict if result.count(v))
        line = Text.assemble(" ", (f"{GLYPH[result.verdict]} {result.id}: {LABEL[result.verdict]}", STYLE[result.verdict]),
                             (f" — {counts} in {duration_text(result.duration)}", "dim"))
        if result.stopped:
            line.append(f" — stopped: {result.stopped}", style="yellow")
        self.console.print(line)
        if result.kept:
            self.console.print(_indented(Text(f"namespace {result.namespace} kept for inspection; cleanup skipped. To remove it:\n"
                                              f"$ helm uninstall {result.release} -n {result.namespace}\n"
                                              f"$ kubectl delete namespace {result.namespace}", style="dim")))

    def running(self, steps: dict[str, str]) -> None:
        if not self.console.is_terminal:
            return  # CI logs: the blocks are enough
        lines = Text("\n").join(Text.assemble(" ▶ ", (scenario_id, "bold"), f"  {step}", style="dim")
                                for scenario_id, step in steps.items())
        if self._live is None:
            self._live = Live(lines, console=self.console, refresh_per_second=2, transient=True)
            self._live.start()
        else:
            self._live.update(lines)

    def run_finished(self, result: RunResult) -> None:
        self._stop_status()
        if self._live is not None:
            self._live.stop()
            self._live = None
        self.console.print()
        table = Table(box=box.SIMPLE_HEAD, title=f"image set: {result.image_set or 'unknown'}", title_justify="left")
        for column in ("scenario", "verdict", "passed", "reproduced", "deviations", "skipped", "duration"):
            table.add_column(column, justify="right" if column not in ("scenario", "verdict") else "left")
        for s in result.scenarios:
            table.add_row(s.id, Text(f"{GLYPH[s.verdict]} {LABEL[s.verdict]}", style=STYLE[s.verdict]),
                          *(str(s.count(v)) for v in (Verdict.PASSED, Verdict.REPRODUCED, Verdict.DEVIATION, Verdict.SKIPPED)),
                          duration_text(s.duration))
        self.console.print(table)
        for scenario, record in result.deviations:
            first = record.failed_checks[0] if record.failed_checks else None
            reason = f"{first.what}: expected {first.expected}; observed {first.observed}" if first else ""
            self.console.print(Text.assemble(("✗ ", "bold red"), f"{scenario.id} {record.label}. {record.title}: ", (reason, "red")))
        verdict = ("deviation" if result.deviations else "interrupted" if result.interrupted else "every step as expected")
        style = "bold red" if result.deviations else "yellow" if result.interrupted else "bold green"
        self.console.print(Text.assemble((verdict, style), f" in {duration_text(result.duration)} (exit {result.exit_code})"))

    # ---- steps ---------------------------------------------------------------------------------
    def step_started(self, record: StepRecord) -> None:
        self._stop_status()
        self.console.print(Text.assemble(" • ", (f"{record.label}. {record.title}", "bold" if record.phase == STEP else "")))
        if record.why:
            self.console.print(_indented(Text(record.why, style="italic")))
        for command in record.replay:
            # never wrapped: a command must stay copy-pasteable
            self.console.print(Text(" " * INDENT + f"$ {command}", style="dim"), soft_wrap=True)
        if record.phase == STEP:
            self.console.print(_indented(Text.assemble(("expect: ", "bold"), record.expect)))

    def pause(self, record: StepRecord) -> bool:
        try:
            answer = self.console.input(Text.assemble(" " * INDENT, ("Press Enter to run this step", "reverse"), " (q + Enter to stop) "))
        except EOFError:
            return False
        return answer.strip().lower() not in ("q", "quit")

    def step_running(self, record: StepRecord) -> None:
        if self.console.is_terminal and not self._parallel:  # in parallel, steps are shown after the fact
            self._status = self.console.status(f"{record.label}. {record.title}", spinner="dots")
            self._status.start()

    def step_finished(self, record: StepRecord) -> None:
        self._stop_status()
        style = STYLE[record.verdict]
        self.console.print(Text.assemble(" ", (f"{GLYPH[record.verdict]} {record.label}. {record.title}", style),
                                         (f"  {LABEL[record.verdict]} · {duration_text(record.duration)}", "dim" if record.verdict is not Verdict.DEVIATION else style)))
        deviation = record.verdict is Verdict.DEVIATION
        if record.phase != STEP and not deviation:
            return  # prepare / cleanup that went fine: the verdict line says it all
        for check in record.checks:
            if check.ok:
                self.console.print(_indented(Text(f"✓ {check.what}: {check.observed}", style="dim")))
            else:
                self.console.print(_indented(Text.assemble(("✗ ", "bold red"), (check.what, "bold"))))
                self.console.print(_indented(Text(f"expected: {check.expected}", style="green"), 2))
                self.console.print(_indented(Text(f"observed: {check.observed}", style="red"), 2))
        if record.availability is not None:
            head, *paths = availability_lines(record.availability)
            style = "yellow" if record.availability.failed else "dim"
            self.console.print(_indented(Text.assemble(("availability: ", "bold"), (head, style))))
            for line in paths:
                self.console.print(_indented(Text(line, style=style), 2))
        lines = 15 if deviation else QUIET_EXCERPT_LINES
        for item in record.evidence:
            self.console.print(_indented(self._box(item, lines, "red" if deviation else "cyan")))
        if record.diagnostics:
            self.console.print(_indented(Text("diagnostics:", style="bold red")))
            for item in record.diagnostics:
                self.console.print(_indented(self._box(item, 15, "red")))

    @staticmethod
    def _box(item: Evidence, lines: int, colour: str) -> Panel:
        return Panel(Text(excerpt(item.text, lines)), title=Text(f"{item.kind} · {item.source}"), title_align="left",
                     box=box.ROUNDED, border_style=colour, expand=False, padding=(0, 1))

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def print_list(summaries: Sequence[tuple[str, str]], console: Console | None = None) -> None:
    """`lab scenario list`: one line per scenario."""
    console = console or Console(highlight=False)
    if not summaries:
        console.print("no scenarios found in the scenarios package")
        return
    width = max(len(scenario_id) for scenario_id, _ in summaries)
    for scenario_id, summary in summaries:
        console.print(Text.assemble((scenario_id.ljust(width), "bold"), "  ", summary))
