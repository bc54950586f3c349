"""What a step expects: success, a component healthy, the exact failure the seed describes, a hang,
the app answering throughout (`Available`) or an outage (`Outage`).

Each expectation turns an action's outcome into a verdict plus the list of checks it made; every check
carries what was expected and what was observed, so a deviation shows each mismatching field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lab.availability import Availability
from lab.scenario.context import ScenarioContext
from lab.scenario.model import (
    EVENT, LOG, OUTPUT, SQL, Check, Evidence, Expectation, Judgement, Outcome, Verdict,
)

# Seconds a "hang" may end early and still count as having waited until its deadline
# (helm and kubectl round their own timeouts).
_HANG_TOLERANCE = 0.9


def _action_check(outcome: Outcome, *, should_succeed: bool) -> Check:
    result = outcome.result
    observed = ("succeeded" if result.ok else "timed out" if result.timed_out else "failed")
    if result.summary:
        observed += f": {result.summary}"
    return Check("action", "succeeds" if should_succeed else "fails", observed, result.ok == should_succeed)


def _line_with(text: str, needle: str) -> str:
    return next((line.strip() for line in text.splitlines() if needle in line), text.strip())


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(empty)"


def _find_text(evidence: Sequence[Evidence], kinds: set[str] | None, needle: str, what: str) -> Check:
    """Is the exact `needle` in one of the evidence texts (of these kinds)?"""
    candidates = [e for e in evidence if kinds is None or e.kind in kinds]
    for item in candidates:
        if needle in item.text:
            return Check(what, f"contains {needle!r}", f"{item.kind} {item.source}: {_line_with(item.text, needle)}", True)
    if not candidates:
        kind_names = "/".join(sorted(kinds)) if kinds else "any"
        return Check(what, f"contains {needle!r}", f"no {kind_names} evidence collected", False)
    seen = "; ".join(f"{e.kind} {e.source} ends with {_last_line(e.text)!r}" for e in candidates[:4])
    more = f" (+{len(candidates) - 4} more)" if len(candidates) > 4 else ""
    return Check(what, f"contains {needle!r}", f"not found in {len(candidates)} excerpt(s): {seen}{more}", False)


def _find_event(evidence: Sequence[Evidence], reason: str, message: str | None) -> Check:
    expected = f"event {reason}" + (f" with message containing {message!r}" if message else "")
    events = [e for e in evidence if e.kind == EVENT]
    for item in events:
        if item.fields.get("reason") == reason and (message is None or message in item.fields.get("message", "")):
            return Check("event", expected, f"{item.source}: {item.text}", True)
    if not events:
        return Check("event", expected, "no event collected", False)
    seen = "; ".join(f"{e.source}: {e.fields.get('reason', '?')} {e.fields.get('message', '')!r}" for e in events[:5])
    return Check("event", expected, f"not among {len(events)} event(s): {seen}", False)


def _verdict(checks: Sequence[Check], success: Verdict) -> Verdict:
    return success if all(check.ok for check in checks) else Verdict.DEVIATION


@dataclass(frozen=True)
class Succeeds:
    """The action completes."""

    def describe(self) -> str:
        return "succeeds"

    def judge(self, ctx: ScenarioContext, outcome: Outcome) -> Judgement:
        checks = [_action_check(outcome, should_succeed=True)]
        return Judgement(_verdict(checks, Verdict.PASSED), checks)


@dataclass(frozen=True)
class Healthy:
    """The action completes and each named component is healthy afterwards (asked to the context)."""

    components: tuple[str, ...]

    def __init__(self, *components: str) -> None:
        if not components:
            raise ValueError("Healthy() needs at least one component name")
        object.__setattr__(self, "components", components)

    def describe(self) -> str:
        return "succeeds and " + ", ".join(self.components) + " healthy"

    def judge(self, ctx: ScenarioContext, outcome: Outcome) -> Judgement:
        checks = [_action_check(outcome, should_succeed=True)]
        evidence: list[Evidence] = []
        for component in self.components:
            health = ctx.health(component)
            checks.append(Check(f"{component} health", "healthy", health.detail or ("healthy" if health.ok else "unhealthy"), health.ok))
            evidence.extend(health.evidence)
        return Judgement(_verdict(checks, Verdict.PASSED), checks, evidence)


@dataclass(frozen=True)
class Fails:
    """The exact failure the seed describes, matched against the evidence the action collected.

    log:     exact text in a container log or a command's output
    event:   a Kubernetes event reason ("BackOff", "FailedMount"...); `message` then narrows it
    message: exact text in that event's message, or, without `event`, in any evidence
    sql:     exact text in an SQL result
    action_fails: False when the seed's failure is in what is observed while the command itself
             succeeds (a redeploy that "works" while the database logs `Skipping initialization`)."""

    log: str | None = None
    event: str | None = None
    message: str | None = None
    sql: str | None = None
    action_fails: bool = True

    def __post_init__(self) -> None:
        if not any((self.log, self.event, self.message, self.sql)):
            raise ValueError("Fails() needs the exact failure: log=, event=, message= or sql=")

    def describe(self) -> str:
        parts = []
        if self.log:
            parts.append(f"log shows {self.log!r}")
        if self.event:
            parts.append(f"event {self.event}" + (f" {self.message!r}" if self.message else ""))
        elif self.message:
            parts.append(f"shows {self.message!r}")
        if self.sql:
            parts.append(f"SQL returns {self.sql!r}")
        head = "fails" if self.action_fails else "completes, yet"
        return f"{head}: " + ", ".join(parts)

    def judge(self, ctx: ScenarioContext, outcome: Outcome) -> Judgement:
        evidence = outcome.result.evidence
        checks = []
        if self.action_fails:
            checks.append(_action_check(outcome, should_succeed=False))
        if self.log:
            checks.append(_find_text(evidence, {LOG, OUTPUT}, self.log, "log"))
        if self.event:
            checks.append(_find_event(evidence, self.event, self.message))
        elif self.message:
            checks.append(_find_text(evidence, None, self.message, "message"))
        if self.sql:
            checks.append(_find_text(evidence, {SQL}, self.sql, "sql"))
        return Judgement(_verdict(checks, Verdict.REPRODUCED), checks)


def FailsWith(event: str, message: str | None = None) -> Fails:
    """A failure shown by a Kubernetes event: `FailsWith(event="BackOff", message="restarting failed container")`."""
    return Fails(event=event, message=message)


@dataclass(frozen=True)
class Hangs:
    """The action is still waiting when its deadline passes (the pre-install hook deadlock).
    `until` defaults to the step's timeout; `message` is exact text the evidence must show
    (e.g. helm's "context deadline exceeded")."""

    until: float | None = None
    message: str | None = None

    def describe(self) -> str:
        until = f"{self.until:g}s" if self.until else "its timeout"
        return f"hangs until {until}" + (f", then shows {self.message!r}" if self.message else "")

    def judge(self, ctx: ScenarioContext, outcome: Outcome) -> Judgement:
        until = self.until or outcome.timeout
        result = outcome.result
        waited = result.timed_out and outcome.duration >= until * _HANG_TOLERANCE
        if result.timed_out:
            observed = f"timed out after {outcome.duration:.1f}s"
        else:
            observed = f"{'succeeded' if result.ok else 'failed'} after {outcome.duration:.1f}s" + (f": {result.summary}" if result.summary else "")
        checks = [Check("action", f"still waiting at its deadline ({until:g}s)", observed, waited)]
        if self.message:
            checks.append(_find_text(result.evidence, None, self.message, "message"))
        return Judgement(_verdict(checks, Verdict.REPRODUCED), checks)


Predicate = Callable[[ScenarioContext, Outcome], "bool | tuple[bool, str]"]


@dataclass(frozen=True)
class Satisfies:
    """A custom check: `predicate(ctx, outcome)` returns a bool, or (bool, what was observed).
    `reproduces_failure=True` when a true predicate means the seed's problem was reproduced."""

    description: str
    predicate: Predicate
    reproduces_failure: bool = False
    action_must_succeed: bool = True

    def describe(self) -> str:
        return self.description

    def judge(self, ctx: ScenarioContext, outcome: Outcome) -> Judgement:
        checks = []
        if self.action_must_succeed:
            checks.append(_action_check(outcome, should_succeed=True))
        answer = self.predicate(ctx, outcome)
        ok, observed = answer if isinstance(answer, tuple) else (bool(answer), "true" if answer else "false")
        checks.append(Check(self.description, "true", observed, bool(ok)))
        return Judgement(_verdict(checks, Verdict.REPRODUCED if self.reproduces_failure else Verdict.PASSED), checks)


@dataclass(frozen=True)
class AllOf:
    """Every expectation holds; the verdict is a reproduced failure if any part is one."""

    parts: tuple[Expectation, ...]

    def __init__(self, *parts: Expectation) -> None:
        if not parts:
            raise ValueError("AllOf() needs at least one expectation")
        object.__setattr__(self, "parts", parts)

    def describe(self) -> str:
        return "; ".join(part.describe() for part in self.parts)

    def judge(self, ctx: ScenarioContext, outcome: Outcome) -> Judgement:
        judgements = [part.judge(ctx, outcome) for part in self.parts]
        checks: list[Check] = []
        for judgement in judgements:
            checks.extend(check for check in judgement.checks if check not in checks)
        verdicts = {judgement.verdict for judgement in judgements}
        verdict = (Verdict.DEVIATION if Verdict.DEVIATION in verdicts
                   else Verdict.REPRODUCED if Verdict.REPRODUCED in verdicts else Verdict.PASSED)
        return Judgement(verdict, checks, [e for judgement in judgements for e in judgement.evidence])


def _failures_text(failures: Mapping[str, int]) -> str:
    return ", ".join(f"{kind} ×{count}" for kind, count in failures.items())


def _availability_observed(figures: Availability, path: str | None) -> tuple[int, int, str]:
    """(requests, failed, text) of one probed path or of them all."""
    part = figures.path(path) if path else None
    requests, failed, failures, gap = ((part.requests, part.failed, part.failures, part.longest_gap_s) if part
                                       else (figures.requests, figures.failed, figures.failures, figures.longest_gap_s))
    text = f"{requests} requests{f' to {path}' if path else ''} in {figures.window_s:.1f}s, {failed} failed"
    if failed:
        text += f" ({_failures_text(failures)})"
    return requests, failed, text + f", longest gap without a success {gap:.1f}s"


_NOT_PROBED = "no availability figures: the step was not probed (Step(probe=True)) or its probe could not start"


@dataclass(frozen=True)
class Available:
    """The app answered throughout the action: at most `max_failed` failed requests (of every probed
    path, or of `path` alone) and at least one request made."""

    max_failed: int = 0
    path: str | None = None

    def describe(self) -> str:
        where = f" to {self.path}" if self.path else ""
        return (f"no failed request{where} during the step" if self.max_failed == 0
                else f"at most {self.max_failed} failed request(s){where} during the step")

    def judge(self, ctx: ScenarioContext, outcome: Outcome) -> Judgement:
        expected = self.describe().removesuffix(" during the step")
        figures = outcome.availability
        if figures is None:
            return Judgement(Verdict.DEVIATION, [Check("availability", expected, _NOT_PROBED, False)])
        requests, failed, observed = _availability_observed(figures, self.path)
        check = Check("availability", expected, observed, requests > 0 and failed <= self.max_failed)
        return Judgement(_verdict([check], Verdict.PASSED), [check])


@dataclass(frozen=True)
class Outage:
    """The seed's failure as users see it: at least `min_failed` requests (of every probed path, or of
    `path`) failed during the action. A reproduced failure, not a pass."""

    min_failed: int = 1
    path: str | None = None

    def describe(self) -> str:
        where = f" to {self.path}" if self.path else ""
        return f"an outage: at least {self.min_failed} failed request(s){where}"

    def judge(self, ctx: ScenarioContext, outcome: Outcome) -> Judgement:
        expected = f"at least {self.min_failed} failed request(s)" + (f" to {self.path}" if self.path else "")
        figures = outcome.availability
        if figures is None:
            return Judgement(Verdict.DEVIATION, [Check("outage", expected, _NOT_PROBED, False)])
        _, failed, observed = _availability_observed(figures, self.path)
        if failed and figures.first_failure_s is not None:
            observed += f"; failures from {figures.first_failure_s:.1f}s to {figures.last_failure_s or 0:.1f}s"
        check = Check("outage", expected, observed, failed >= self.min_failed)
        return Judgement(_verdict([check], Verdict.REPRODUCED), [check])
