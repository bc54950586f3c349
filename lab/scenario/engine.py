"""Runs scenarios: for each step, the narration, the action, its evidence, the rows of `employes`
before and after, and a verdict. Rendering goes through an `Observer` (the console), files through
`lab.scenario.report`; the engine itself prints nothing.

Verdicts: `passed`, `expected-failure-reproduced`, `deviation` (fails the run), `skipped`.
A deviation gathers diagnostics; `fail_fast` stops everything at the first one. A deviation in a
setup step skips the scenario's steps. Cleanup (steps' `cleanup`, the scenario's `cleanup`, then the
context's teardown) always runs, even after a deviation or Ctrl-C, unless `keep`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn, Protocol

from lab.availability import Availability, Probe
from lab.scenario.context import ScenarioContext
from lab.scenario.model import (
    ERROR, NOTE, ContextFactory, OUTPUT, Action, ActionResult, Check, DataSnapshot, Evidence, Health, Judgement, Outcome,
    Scenario, Step, Verdict,
)
from lab.scenario.expectations import Succeeds

# Evidence kept per item: the tail of long logs (the end is where the failure is).
MAX_EVIDENCE_LINES = 200
MAX_EVIDENCE_CHARS = 20_000

EXIT_OK = 0
EXIT_DEVIATION = 1
EXIT_INTERRUPTED = 130

SETUP, STEP, CLEANUP = "setup", "step", "cleanup"
_PHASE_PREFIX = {SETUP: "S", STEP: "", CLEANUP: "C"}


@dataclass(frozen=True)
class RunOptions:
    pause: bool = False          # wait for Enter before each step (live demos; needs a terminal)
    keep: bool = False           # leave the namespace (and skip cleanup) for inspection
    fail_fast: bool = False      # stop the whole run at the first deviation
    report_dir: Path | None = None
    jobs: int = 1                # scenarios run at once, each in its own namespace (1: one after another)


@dataclass(frozen=True)
class DataCheck:
    """The `employes` rows around one step. `ok` False = rows lost or changed, or not countable."""

    before: DataSnapshot | None
    after: DataSnapshot | None
    ok: bool
    note: str


@dataclass
class StepRecord:
    phase: str
    number: int
    title: str
    why: str
    action: str
    replay: list[str]
    expect: str
    verdict: Verdict = Verdict.SKIPPED
    started_at: str = ""
    duration: float = 0.0
    summary: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    diagnostics: list[Evidence] = field(default_factory=list)
    data: DataCheck | None = None
    availability: Availability | None = None  # probed steps: what steady requests to the app saw

    @property
    def label(self) -> str:
        return f"{_PHASE_PREFIX[self.phase]}{self.number}"

    @property
    def failed_checks(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]


@dataclass
class ScenarioResult:
    id: str
    title: str
    summary: str
    seed: list[str]
    namespace: str
    release: str
    started_at: str = ""
    duration: float = 0.0
    records: list[StepRecord] = field(default_factory=list)
    kept: bool = False
    stopped: str = ""  # why the scenario did not run to its end ("fail-fast", "a setup step deviated", "by the user at a pause")

    @property
    def verdict(self) -> Verdict:
        if any(r.verdict is Verdict.DEVIATION for r in self.records):
            return Verdict.DEVIATION
        if all(r.verdict is Verdict.SKIPPED for r in self.records if r.phase == STEP):
            return Verdict.SKIPPED
        return Verdict.PASSED

    def count(self, verdict: Verdict) -> int:
        return sum(1 for r in self.records if r.verdict is verdict)


@dataclass
class RunResult:
    image_set: str
    started_at: str
    duration: float = 0.0
    scenarios: list[ScenarioResult] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C, or "q" at a pause

    @property
    def deviations(self) -> list[tuple[ScenarioResult, StepRecord]]:
        return [(s, r) for s in self.scenarios for r in s.records if r.verdict is Verdict.DEVIATION]

    @property
    def exit_code(self) -> int:
        if self.deviations:
            return EXIT_DEVIATION
        return EXIT_INTERRUPTED if self.interrupted else EXIT_OK


class Observer(Protocol):
    """Who watches a run (the console); every method is called on the engine's thread."""

    interactive: bool  # can answer `pause` (a human at a terminal)

    def run_started(self, scenarios: Sequence[Scenario], options: RunOptions) -> None: ...
    def scenario_started(self, scenario: Scenario, ctx: ScenarioContext) -> None: ...
    def step_started(self, record: StepRecord) -> None: ...
    def pause(self, record: StepRecord) -> bool: ...  # True: go on; False: stop the run
    def step_running(self, record: StepRecord) -> None: ...
    def step_finished(self, record: StepRecord) -> None: ...
    def scenario_finished(self, result: ScenarioResult) -> None: ...
    def run_finished(self, result: RunResult) -> None: ...
    # With --jobs: now and then, the step each running scenario is at (scenario id -> "label. title").
    def running(self, steps: dict[str, str]) -> None: ...


class SilentObserver:
    """Shows nothing and never pauses (library use, tests)."""

    interactive = False

    def run_started(self, scenarios: Sequence[Scenario], options: RunOptions) -> None: pass
    def scenario_started(self, scenario: Scenario, ctx: ScenarioContext) -> None: pass
    def step_started(self, record: StepRecord) -> None: pass
    def pause(self, record: StepRecord) -> bool: return True
    def step_running(self, record: StepRecord) -> None: pass
    def step_finished(self, record: StepRecord) -> None: pass
    def scenario_finished(self, result: ScenarioResult) -> None: pass
    def run_finished(self, result: RunResult) -> None: pass
    def running(self, steps: dict[str, str]) -> None: pass


class _Recording:
    """Stands for the observer while a scenario runs beside others: keeps its calls, replayed as one block
    when the scenario ends (narrations never interleave), and tells which step it is at."""

    interactive = False

    def __init__(self) -> None:
        self.calls: list[Callable[[Observer], None]] = []
        self.at = "preparing"

    def run_started(self, scenarios: Sequence[Scenario], options: RunOptions) -> None: pass
    def run_finished(self, result: RunResult) -> None: pass
    def running(self, steps: dict[str, str]) -> None: pass
    def pause(self, record: StepRecord) -> bool: return True

    def scenario_started(self, scenario: Scenario, ctx: ScenarioContext) -> None:
        self.calls.append(lambda observer: observer.scenario_started(scenario, ctx))

    def step_started(self, record: StepRecord) -> None:
        self.calls.append(lambda observer: observer.step_started(record))

    def step_running(self, record: StepRecord) -> None:
        self.at = f"{record.label}. {record.title}"
        self.calls.append(lambda observer: observer.step_running(record))

    def step_finished(self, record: StepRecord) -> None:
        self.calls.append(lambda observer: observer.step_finished(record))

    def scenario_finished(self, result: ScenarioResult) -> None:
        self.calls.append(lambda observer: observer.scenario_finished(result))

    def replay(self, observer: Observer) -> None:
        for call in self.calls:
            call(observer)


class PauseNeedsTerminal(Exception):
    """--pause was asked for but nobody can press Enter."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _tail(text: str) -> str:
    lines = text.splitlines()
    if len(lines) > MAX_EVIDENCE_LINES:
        text = "\n".join([f"[... {len(lines) - MAX_EVIDENCE_LINES} earlier lines]"] + lines[-MAX_EVIDENCE_LINES:])
    if len(text) > MAX_EVIDENCE_CHARS:
        text = "[...]" + text[-MAX_EVIDENCE_CHARS:]
    return text


def _error_evidence(error: BaseException) -> list[Evidence]:
    """An exception raised by an action; the stdout/stderr a command error carries becomes output
    evidence, so `Fails(log=...)` finds helm's or kubectl's message in it."""
    evidence = [Evidence(ERROR, type(error).__name__, f"{type(error).__name__}: {error}")]
    # `stderr_tail`: lab.runner.CommandError; `stdout`/`stderr`: subprocess errors
    for stream in ("stdout", "stderr", "stderr_tail"):
        text = getattr(error, stream, None)
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        if isinstance(text, str) and text.strip():
            evidence.append(Evidence(OUTPUT, getattr(error, "command", None) or f"{type(error).__name__} {stream}", text.strip()))
    return evidence


def compare_data(before: DataSnapshot | None, after: DataSnapshot | None) -> DataCheck:
    """Any row lost, or changed in place, is a deviation; new rows are fine."""
    if before is None and after is None:
        return DataCheck(before, after, True, "no employes table yet")
    if before is None:
        return DataCheck(before, after, True, f"employes appeared with {after.rows} rows")  # type: ignore[union-attr]
    if after is None:
        return DataCheck(before, after, False, f"employes is gone: {before.rows} rows lost")
    if after.rows < before.rows:
        return DataCheck(before, after, False, f"{before.rows} -> {after.rows} rows: {before.rows - after.rows} lost")
    if after.rows == before.rows and after.checksum != before.checksum:
        return DataCheck(before, after, False, f"{after.rows} rows, but their content changed (checksum {before.checksum} -> {after.checksum})")
    if after.rows > before.rows:
        return DataCheck(before, after, True, f"{before.rows} -> {after.rows} rows (+{after.rows - before.rows})")
    return DataCheck(before, after, True, f"{after.rows} rows, checksum unchanged")


_UNKNOWN = object()  # "no snapshot we can reuse"


class Engine:
    def __init__(self, make_context: ContextFactory, options: RunOptions = RunOptions(),
                 observer: Observer | None = None, clock: Callable[[], float] = time.monotonic,
                 stopping: threading.Event | None = None) -> None:
        self.make_context = make_context
        self.options = options
        self.observer: Observer = observer or SilentObserver()
        self.clock = clock
        # shared by the engines of a parallel run: its Ctrl-C or fail-fast stops each after its step
        self._stopping = stopping or threading.Event()
        self._last_snapshot: object = _UNKNOWN  # the previous step's `after`, reused as the next `before`

    # ---- a run -------------------------------------------------------------------------------
    def run(self, scenarios: Sequence[Scenario]) -> RunResult:
        if self.options.pause and not self.observer.interactive:
            raise PauseNeedsTerminal("--pause waits for Enter before each step: run it from a terminal")
        if self.options.pause and self.options.jobs > 1:
            raise PauseNeedsTerminal("--pause shows one step at a time: it cannot run scenarios in parallel (drop --jobs)")
        run = RunResult(image_set="", started_at=_now())
        start = self.clock()
        self.observer.run_started(scenarios, self.options)
        if self.options.jobs > 1 and len(scenarios) > 1:
            run.scenarios = self._run_in_parallel(scenarios, run)
        else:
            stop_all = False
            for scenario in scenarios:
                if stop_all:
                    run.scenarios.append(self._skipped_scenario(scenario, "an earlier scenario stopped the run"))
                    continue
                result, stop_all = self._run_scenario(scenario, run)
                run.scenarios.append(result)
        run.duration = self.clock() - start
        self.observer.run_finished(run)
        return run

    def _run_in_parallel(self, scenarios: Sequence[Scenario], run: RunResult) -> list[ScenarioResult]:
        """Up to `jobs` scenarios at once, each with its own engine (its own snapshots) and a recording
        observer; results in the scenarios' order, as a serial run gives them. Ctrl-C (or fail-fast) lets
        each running scenario finish its step and clean up, and skips the ones not started."""
        stopping = threading.Event()
        shown = threading.Lock()
        recordings: dict[str, _Recording] = {}

        def one(scenario: Scenario) -> ScenarioResult:
            if stopping.is_set():
                return self._skipped_scenario(scenario, "an earlier scenario stopped the run")
            recording = recordings[scenario.id] = _Recording()
            engine = Engine(self.make_context, self.options, recording, self.clock, stopping)
            own = RunResult(image_set="", started_at=run.started_at)
            result, stop_all = engine._run_scenario(scenario, own)
            with shown:
                del recordings[scenario.id]
                recording.replay(self.observer)
                run.image_set = run.image_set or own.image_set
                run.interrupted = run.interrupted or own.interrupted
            if stop_all:
                stopping.set()
            return result

        with ThreadPoolExecutor(max_workers=self.options.jobs, thread_name_prefix="scenario") as pool:
            futures: list[Future[ScenarioResult]] = [pool.submit(one, scenario) for scenario in scenarios]
            try:
                while not all(future.done() for future in futures):
                    wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
                    with shown:
                        self.observer.running({sid: rec.at for sid, rec in recordings.items()})
            except KeyboardInterrupt:
                run.interrupted = True
                stopping.set()
                for future in futures:
                    future.cancel()
                wait(futures)
            return [future.result() if not future.cancelled() else self._skipped_scenario(s, "interrupted")
                    for future, s in zip(futures, scenarios, strict=True)]

    def _skipped_scenario(self, scenario: Scenario, why: str) -> ScenarioResult:
        result = ScenarioResult(scenario.id, scenario.title, scenario.summary, list(scenario.seed),
                                scenario.namespace, scenario.namespace, started_at=_now(), stopped=why)
        for phase, steps in ((SETUP, scenario.setup), (STEP, scenario.steps)):
            for number, step in enumerate(steps, 1):
                result.records.append(StepRecord(phase, number, step.title, step.why, step.do.name, [],
                                                 step.expect.describe(), summary=why))
        return result

    # ---- a scenario --------------------------------------------------------------------------
    def _run_scenario(self, scenario: Scenario, run: RunResult) -> tuple[ScenarioResult, bool]:
        """Returns the result and whether the whole run must stop."""
        try:
            ctx: ScenarioContext = self.make_context(scenario)
        except Exception as error:  # e.g. the cluster is unreachable: this scenario deviates, the run goes on
            ctx = _UnavailableContext(scenario, error)
        run.image_set = run.image_set or ctx.image_set
        result = ScenarioResult(scenario.id, scenario.title, scenario.summary, list(scenario.seed),
                                ctx.namespace, ctx.release, started_at=_now())
        start = self.clock()
        self.observer.scenario_started(scenario, ctx)
        self._last_snapshot = _UNKNOWN
        cleanups: list[Action] = []
        pending: list[tuple[str, int, Step]] = (
            [(SETUP, n, s) for n, s in enumerate(scenario.setup, 2)] + [(STEP, n, s) for n, s in enumerate(scenario.steps, 1)])
        stop_all = False
        try:
            prepare = self._run_bare(ctx, SETUP, 1, Action("prepare the namespace", lambda c: self._call(c.prepare),
                                                            ("kubectl create namespace {namespace}",)),
                                     f"Prepare the cluster and namespace {ctx.namespace}",
                                     "Each scenario runs in its own namespace and release, so scenarios never see each other's state.")
            result.records.append(prepare)
            if prepare.verdict is Verdict.DEVIATION:
                result.stopped = "the namespace could not be prepared"
                stop_all = self.options.fail_fast
            while pending and not result.stopped:
                if self._stopping.is_set():
                    result.stopped = "the run is stopping"
                    break
                phase, number, step = pending[0]
                record = self._new_record(ctx, phase, number, step)
                self.observer.step_started(record)
                if self.options.pause:
                    if not self.observer.pause(record):
                        run.interrupted = True
                        result.stopped = "by the user at a pause"
                        stop_all = True
                        break
                    self._last_snapshot = _UNKNOWN  # a human may have changed things meanwhile
                pending.pop(0)
                result.records.append(record)
                self.observer.step_running(record)
                self._run_step(ctx, step, record)
                cleanups.extend(step.cleanup)
                self.observer.step_finished(record)
                if record.verdict is Verdict.DEVIATION:
                    if self.options.fail_fast:
                        result.stopped, stop_all = "fail-fast", True
                    elif phase == SETUP:
                        result.stopped = "a setup step deviated"
        except KeyboardInterrupt:
            run.interrupted, stop_all = True, True
            result.stopped = "interrupted"
            if result.records and result.records[-1].verdict is Verdict.SKIPPED:
                result.records[-1].summary = "interrupted (Ctrl-C)"
        finally:
            for phase, number, step in pending:
                skipped = self._new_record(ctx, phase, number, step)
                skipped.summary = result.stopped or "not run"
                result.records.append(skipped)
            self._clean_up(ctx, scenario, cleanups, result)
            result.duration = self.clock() - start
            self.observer.scenario_finished(result)
        return result, stop_all

    def _clean_up(self, ctx: ScenarioContext, scenario: Scenario, cleanups: list[Action], result: ScenarioResult) -> None:
        if self.options.keep:
            result.kept = True
            return
        actions = list(reversed(cleanups)) + list(scenario.cleanup)
        actions.append(Action("tear down the release and namespace", lambda c: self._call(c.teardown),
                              ("kubectl delete namespace {namespace} --wait=false",)))
        for number, cleanup in enumerate(actions, 1):
            record = self._run_bare(ctx, CLEANUP, number, cleanup, cleanup.name, "")
            result.records.append(record)

    @staticmethod
    def _call(function: Callable[[], None]) -> ActionResult:
        function()
        return ActionResult.success()

    # ---- a step ------------------------------------------------------------------------------
    def _new_record(self, ctx: ScenarioContext, phase: str, number: int, step: Step) -> StepRecord:
        return StepRecord(phase, number, step.title, step.why, step.do.name,
                          [ctx.mask(line) for line in self._replay(ctx, step.do)], step.expect.describe())

    @staticmethod
    def _replay(ctx: ScenarioContext, action: Action) -> list[str]:
        try:
            return action.commands(ctx)
        except Exception as error:  # a broken replay template must not hide the step itself
            return [f"# replay unavailable: {type(error).__name__}: {error}"]

    def _snapshot(self, ctx: ScenarioContext) -> DataSnapshot | None | Exception:
        try:
            return ctx.data_snapshot()
        except Exception as error:
            return error

    def _act(self, ctx: ScenarioContext, action: Action, timeout: float) -> Outcome:
        ctx.step_timeout = timeout
        start = self.clock()
        try:
            result = action(ctx)
            if not isinstance(result, ActionResult):
                raise TypeError(f"action {action.name!r} returned {type(result).__name__}, not ActionResult")
        except Exception as error:
            result = ActionResult(False, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": "),
                                  tuple(_error_evidence(error)))
        return Outcome(result, self.clock() - start, timeout)

    def _act_probed(self, ctx: ScenarioContext, step: Step, record: StepRecord) -> Outcome:
        """The step's action, with the availability probe running around it when the step is probed."""
        if not step.probed:
            return self._act(ctx, step.do, step.timeout)
        try:
            probing = ctx.probe_availability()
            probe: Probe = probing.__enter__()
        except Exception as error:  # no figures, but the step itself still runs
            record.evidence.append(Evidence(ERROR, "availability probe", f"could not start: {type(error).__name__}: {error}"))
            return self._act(ctx, step.do, step.timeout)
        try:
            outcome = self._act(ctx, step.do, step.timeout)
        finally:
            probing.__exit__(None, None, None)
        return replace(outcome, availability=probe.figures())

    def _run_step(self, ctx: ScenarioContext, step: Step, record: StepRecord) -> None:
        record.started_at = _now()
        before: object = _UNKNOWN
        if step.touches_data:
            before = self._last_snapshot if self._last_snapshot is not _UNKNOWN else self._snapshot(ctx)
        self._last_snapshot = _UNKNOWN
        start = self.clock()
        try:
            outcome = self._act_probed(ctx, step, record)
            record.availability = outcome.availability
            record.summary = outcome.result.summary
            record.evidence.extend(outcome.result.evidence)
            if outcome.duration > step.timeout * 1.25 + 30:
                record.evidence.append(Evidence(NOTE, "engine", f"took {outcome.duration:.0f}s, over its {step.timeout:g}s budget: "
                                                "the action does not honour ctx.step_timeout"))
            judgement = self._judge(ctx, step, outcome)
            record.verdict = judgement.verdict
            record.checks.extend(judgement.checks)
            record.evidence.extend(judgement.evidence)
            if step.touches_data:
                after = self._snapshot(ctx)
                record.data = self._data_check(before, after)
                record.checks.append(Check("employes rows", "none lost or changed", record.data.note, record.data.ok))
                if not record.data.ok:
                    record.verdict = Verdict.DEVIATION
                elif not isinstance(after, Exception):
                    self._last_snapshot = after
            if record.verdict is Verdict.DEVIATION:
                self._diagnose(ctx, step, record)
        finally:
            # chainsaw's `finally`: runs even on Ctrl-C; a failing one is a deviation
            for always in step.always:
                self._last_snapshot = _UNKNOWN
                outcome = self._act(ctx, always, step.timeout)
                record.evidence.extend(outcome.result.evidence)
                record.checks.append(_finally_check(always, outcome.result))
                if not outcome.result.ok:
                    record.verdict = Verdict.DEVIATION
            record.duration = self.clock() - start
            _mask_record(ctx, record)

    def _judge(self, ctx: ScenarioContext, step: Step, outcome: Outcome) -> Judgement:
        try:
            return step.expect.judge(ctx, outcome)
        except Exception as error:
            return Judgement(Verdict.DEVIATION,
                             [Check("expectation", step.expect.describe(), f"could not be evaluated: {type(error).__name__}: {error}", False)],
                             _error_evidence(error))

    @staticmethod
    def _data_check(before: object, after: object) -> DataCheck:
        """A snapshot, None (no table yet), or the Exception that kept the rows from being counted."""
        readable = [value if isinstance(value, DataSnapshot) else None for value in (before, after)]
        for moment, value in (("before", before), ("after", after)):
            if isinstance(value, Exception):
                return DataCheck(readable[0], readable[1], False,
                                 f"could not count the rows {moment} the step ({type(value).__name__}: {value}): nothing proves no row was lost")
        return compare_data(readable[0], readable[1])

    def _diagnose(self, ctx: ScenarioContext, step: Step, record: StepRecord) -> None:
        try:
            record.diagnostics.extend(ctx.diagnostics())
        except Exception as error:
            record.diagnostics.append(Evidence(ERROR, "diagnostics", f"could not collect diagnostics: {type(error).__name__}: {error}"))
        for catch in step.catch:
            outcome = self._act(ctx, catch, step.timeout)
            record.diagnostics.extend(outcome.result.evidence or
                                      (Evidence(OUTPUT, catch.name, outcome.result.summary or "(no output)"),))

    def _run_bare(self, ctx: ScenarioContext, phase: str, number: int, action: Action, title: str, why: str) -> StepRecord:
        """An action with no expectation of its own (prepare, cleanup, teardown): it must succeed."""
        record = StepRecord(phase, number, title, why, action.name, [ctx.mask(c) for c in self._replay(ctx, action)],
                            Succeeds().describe(), started_at=_now())
        self.observer.step_started(record)
        self.observer.step_running(record)
        outcome = self._act(ctx, action, ctx_timeout(ctx))
        judgement = Succeeds().judge(ctx, outcome)
        record.verdict, record.duration, record.summary = judgement.verdict, outcome.duration, outcome.result.summary
        record.checks.extend(judgement.checks)
        record.evidence.extend(outcome.result.evidence)
        if record.verdict is Verdict.DEVIATION and phase != CLEANUP:
            self._diagnose(ctx, Step(title, why, action, Succeeds()), record)
        _mask_record(ctx, record)
        self.observer.step_finished(record)
        return record


class _UnavailableContext:
    """Stands in when the context factory itself failed: `prepare` reports the error as a deviation."""

    config = None
    image_set = "unknown"
    step_timeout = 0.0

    def __init__(self, scenario: Scenario, error: Exception) -> None:
        self.scenario_id, self.namespace, self.release = scenario.id, scenario.namespace, scenario.namespace
        self.error = error

    def prepare(self) -> None:
        raise self.error

    def teardown(self) -> None:
        pass

    def data_snapshot(self) -> DataSnapshot | None:
        raise self.error

    def health(self, component: str) -> Health:
        return Health(False, f"no context: {self.error}")

    def diagnostics(self) -> Sequence[Evidence]:
        return []

    def probe_availability(self) -> NoReturn:
        raise self.error

    def mask(self, text: str) -> str:
        return text


def ctx_timeout(ctx: ScenarioContext) -> float:
    """Budget for prepare/cleanup actions: the lab's helm timeout when the config has one."""
    timeouts = getattr(getattr(ctx, "config", None), "timeouts", None)
    return float(getattr(timeouts, "helm", 600))


def _finally_check(action: Action, result: ActionResult) -> Check:
    observed = ("succeeded" if result.ok else "failed") + (f": {result.summary}" if result.summary else "")
    return Check(f"finally: {action.name}", "succeeds", observed, result.ok)


def _mask_evidence(ctx: ScenarioContext, items: list[Evidence]) -> list[Evidence]:
    return [replace(e, source=ctx.mask(e.source), text=_tail(ctx.mask(e.text)),
                    fields={k: ctx.mask(v) for k, v in e.fields.items()}) for e in items]


def _mask_record(ctx: ScenarioContext, record: StepRecord) -> None:
    """Secrets never reach the screen or a report: everything shown passes through the context's mask."""
    record.summary = ctx.mask(record.summary)
    record.evidence = _mask_evidence(ctx, record.evidence)
    record.diagnostics = _mask_evidence(ctx, record.diagnostics)
    record.checks = [replace(c, expected=ctx.mask(c.expected), observed=ctx.mask(c.observed)) for c in record.checks]
    if record.data is not None:
        record.data = replace(record.data, note=ctx.mask(record.data.note))


def run(scenarios: Sequence[Scenario], make_context: ContextFactory, options: RunOptions = RunOptions(),
        observer: Observer | None = None) -> RunResult:
    """Run these scenarios in order; see `RunResult.exit_code`."""
    return Engine(make_context, options, observer).run(scenarios)
