"""What `lab up` reports while it works: each step's state, each component's state — data, not prose.

The CLI renders states (a mark and a colour per state); nothing searches text for "ready" or "fail".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from lab.kube import HookJob, Workload, WorkloadState

COMPONENT_ORDER = ("database", "database-keycloak", "keycloak", "app")


class State(str, enum.Enum):
    PENDING = "pending"      # not started, or waiting for something outside the lab (pods starting)
    RUNNING = "running"      # the lab is doing it now
    UNCHANGED = "unchanged"  # already as wanted: nothing done
    CREATED = "created"
    RECREATED = "recreated"
    CHANGED = "changed"
    READY = "ready"
    FAILED = "failed"

    @property
    def changed_something(self) -> bool:
        return self in (State.CREATED, State.RECREATED, State.CHANGED)

    @property
    def finished_well(self) -> bool:
        return self in (State.UNCHANGED, State.CREATED, State.RECREATED, State.CHANGED, State.READY)


Figure = int | float | str


@dataclass(frozen=True)
class StepStatus:
    """One step of `lab up`: its state, one line of detail, and figures (counts, revision, seconds)."""

    step: str  # "cluster" | "images" | "release" | "components"
    state: State
    detail: str = ""
    figures: Mapping[str, Figure] = field(default_factory=dict)


@dataclass(frozen=True)
class ComponentStatus:
    """One component while waiting (database, keycloak, app, hooks)."""

    name: str
    state: State  # PENDING | READY | FAILED
    detail: str


class Progress(Protocol):
    def step(self, status: StepStatus) -> None: ...  # a step starts (RUNNING) or ends (its final state)
    def detail(self, message: str) -> None: ...  # what the running step is doing now
    def components(self, statuses: Sequence[ComponentStatus]) -> None: ...  # the live table
    def output(self, line: str) -> None: ...  # noisy lines (build output): shown only when verbose


class SilentProgress:
    def step(self, status: StepStatus) -> None:
        pass

    def detail(self, message: str) -> None:
        pass

    def components(self, statuses: Sequence[ComponentStatus]) -> None:
        pass

    def output(self, line: str) -> None:
        pass


def _workload_state(state: WorkloadState | None) -> State:
    if state is None:
        return State.PENDING
    if state.healthy:
        return State.READY
    return State.FAILED if any(pod.problem for pod in state.pods) else State.PENDING


def _hooks_status(hooks: Sequence[HookJob]) -> ComponentStatus:
    if not hooks:
        return ComponentStatus("hooks", State.READY, "none")
    recent = hooks[-3:]
    outcomes = {hook.outcome for hook in recent}
    state = State.FAILED if "failed" in outcomes else State.READY if outcomes == {"succeeded"} else State.PENDING
    return ComponentStatus("hooks", state, ", ".join(f"{h.name} {h.outcome}" for h in recent))


def component_statuses(states: Sequence[WorkloadState | None], workloads: Sequence[Workload],
                       hooks: Sequence[HookJob]) -> list[ComponentStatus]:
    """One status per component (a component's workloads folded into one line), then the hooks."""
    details: dict[str, list[str]] = {}
    worst: dict[str, State] = {}
    rank = {State.READY: 0, State.PENDING: 1, State.FAILED: 2}
    for workload, state in zip(workloads, states, strict=True):
        name = workload.component
        details.setdefault(name, []).append(f"{workload.ref}: " + (
            "not created yet" if state is None else "ready" if state.healthy else state.summary))
        this = _workload_state(state)
        worst[name] = max(worst.get(name, State.READY), this, key=rank.__getitem__)
    found = [ComponentStatus(name, worst[name], "; ".join(lines)) for name, lines in details.items()]
    found.sort(key=lambda c: (COMPONENT_ORDER.index(c.name) if c.name in COMPONENT_ORDER else len(COMPONENT_ORDER)))
    return [*found, _hooks_status(hooks)]


def component_lines(states: Sequence[WorkloadState | None], workloads: Sequence[Workload],
                    hooks: Sequence[HookJob]) -> dict[str, str]:
    """The same as text: component -> its line."""
    return {status.name: status.detail for status in component_statuses(states, workloads, hooks)}
