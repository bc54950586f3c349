"""What a scenario is made of: data plus small functions.

A scenario is a list of steps; a step says what to do (an `Action`), why (in the
seed's terms) and what to expect (an `Expectation`). The engine owns the rest:
timing, evidence, row counting, rendering and reports.

Chainsaw's vocabulary maps onto a step like this:
    try      -> `do` (one action) judged by `expect`
    catch    -> `catch`: extra diagnostic actions run only on a deviation
                (the context's own diagnostics always run then: events, pod status, last log lines)
    finally  -> `always`: actions run after the step whatever happened
    cleanup  -> `cleanup`: actions stacked and run in reverse order when the scenario ends
                (skipped with --keep, like chainsaw's --skip-delete)
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from lab.availability import Availability
from lab.scenario.context import ScenarioContext
# Re-exported: scenario modules read the evidence kinds and the observed data from here.
from lab.scenario.evidence import ERROR as ERROR
from lab.scenario.evidence import EVENT as EVENT
from lab.scenario.evidence import LOG as LOG
from lab.scenario.evidence import NOTE as NOTE
from lab.scenario.evidence import OUTPUT as OUTPUT
from lab.scenario.evidence import SQL as SQL
from lab.scenario.evidence import STATUS as STATUS
from lab.scenario.evidence import DataSnapshot as DataSnapshot
from lab.scenario.evidence import Evidence as Evidence
from lab.scenario.evidence import Health as Health

_SCENARIO_ID = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# namespace `rhdemo-<id>` must be a DNS-1123 label (63 characters at most)
_MAX_ID_LENGTH = 63 - len("rhdemo-")


@dataclass(frozen=True)
class ActionResult:
    """What an action did. `ok` = it completed (command exit 0, rollout ready...);
    `timed_out` = it was still waiting when its deadline (`ctx.step_timeout`) passed."""

    ok: bool
    summary: str = ""
    evidence: Sequence[Evidence] = ()
    timed_out: bool = False

    @classmethod
    def success(cls, summary: str = "", *evidence: Evidence) -> ActionResult:
        return cls(True, summary, tuple(evidence))

    @classmethod
    def failure(cls, summary: str, *evidence: Evidence) -> ActionResult:
        return cls(False, summary, tuple(evidence))

    @classmethod
    def timeout(cls, summary: str, *evidence: Evidence) -> ActionResult:
        return cls(False, summary, tuple(evidence), timed_out=True)


ReplayCommands = Sequence[str] | Callable[["ScenarioContext"], Sequence[str]]
_PLACEHOLDER = re.compile(r"\{(namespace|release|scenario)\}")


@dataclass(frozen=True)
class Action:
    """A small callable `(ctx) -> ActionResult` plus the commands a human would type to replay it.

    `replay` is a list of command lines in which `{namespace}`, `{release}` and `{scenario}` are
    filled in from the context (other braces, e.g. kubectl's jsonpath `{.data.password}`, are kept),
    or a callable building that list from the context."""

    name: str
    run: Callable[[ScenarioContext], ActionResult]
    replay: ReplayCommands = ()

    def __call__(self, ctx: ScenarioContext) -> ActionResult:
        return self.run(ctx)

    def commands(self, ctx: ScenarioContext) -> list[str]:
        lines = self.replay(ctx) if callable(self.replay) else self.replay
        values = {"namespace": ctx.namespace, "release": ctx.release, "scenario": ctx.scenario_id}
        return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], line) for line in lines]


def action(name: str, *replay: str) -> Callable[[Callable[[ScenarioContext], ActionResult]], Action]:
    """Decorator: `@action("upgrade with sync", "helm upgrade {release} chart/rhdemo -n {namespace}")`."""

    def wrap(run: Callable[[ScenarioContext], ActionResult]) -> Action:
        return Action(name, run, tuple(replay))

    return wrap


class Verdict(str, enum.Enum):
    PASSED = "passed"
    REPRODUCED = "expected-failure-reproduced"
    DEVIATION = "deviation"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One compared field: what was expected, what was observed. A deviation lists every failing one."""

    what: str
    expected: str
    observed: str
    ok: bool


@dataclass(frozen=True)
class Outcome:
    """An action's result as the engine saw it."""

    result: ActionResult
    duration: float
    timeout: float
    availability: Availability | None = None  # what the probe saw while the action ran (probed steps)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    checks: Sequence[Check] = ()
    evidence: Sequence[Evidence] = ()  # anything the expectation looked up itself (health probes, queries)


@runtime_checkable
class Expectation(Protocol):
    def describe(self) -> str: ...

    def judge(self, ctx: ScenarioContext, outcome: Outcome) -> Judgement: ...


@dataclass(frozen=True)
class Step:
    title: str
    why: str
    do: Action
    expect: Expectation
    timeout: float = 300.0
    # Count and checksum the `employes` rows before and after (the default: the engine cannot know
    # which actions touch the database or the release; set False for read-only steps).
    touches_data: bool = True
    catch: Sequence[Action] = ()
    always: Sequence[Action] = ()
    cleanup: Sequence[Action] = ()
    # Request the app steadily while `do` runs (`ctx.probe_availability()`): the step's availability
    # figures. None = probe exactly the steps that touch the release or the database (`touches_data`).
    probe: bool | None = None

    @property
    def probed(self) -> bool:
        return self.touches_data if self.probe is None else self.probe

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("a step needs a title")
        if self.timeout <= 0:
            raise ValueError(f"step {self.title!r}: timeout must be positive, got {self.timeout}")
        for name in ("catch", "always", "cleanup"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True)
class Scenario:
    """One scenario; runs in its own namespace and release `rhdemo-<id>`.

    `seed` names the sections of the team's analysis it covers ("Problème 1", "Solution 1", "Test 3").
    `setup` steps are shown and judged like the others; a deviation there skips the scenario's steps.
    `cleanup` actions run at the end (after the steps' own cleanups) unless --keep."""

    id: str
    title: str
    summary: str
    seed: Sequence[str]
    steps: Sequence[Step]
    setup: Sequence[Step] = ()
    cleanup: Sequence[Action] = ()

    def __post_init__(self) -> None:
        if not _SCENARIO_ID.match(self.id) or len(self.id) > _MAX_ID_LENGTH:
            raise ValueError(f"scenario id {self.id!r} must be lowercase letters, digits and '-', "
                             f"at most {_MAX_ID_LENGTH} characters (it names the namespace rhdemo-<id>)")
        if not self.steps:
            raise ValueError(f"scenario {self.id!r} has no steps")
        if "\n" in self.summary:
            raise ValueError(f"scenario {self.id!r}: the summary is one line")
        for name in ("seed", "steps", "setup", "cleanup"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def namespace(self) -> str:
        return f"rhdemo-{self.id}"


ContextFactory = Callable[[Scenario], ScenarioContext]
"""How the engine gets one context per scenario (the lab's `LiveContextFactory`, the tests' fake)."""
