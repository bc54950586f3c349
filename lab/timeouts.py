"""Typed timeouts for what the lab does to a cluster: one default per operation, and a `Budget`
that says how much of a step's time is left (instead of `step_timeout - 10` margins everywhere).

The lab-wide, user-configurable timeouts (`lab up`'s helm and readiness waits) are
`lab.config.Timeouts`; these are the fixed ones of single operations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OperationTimeouts:
    """Seconds, per operation."""

    kubectl: float = 120          # a kubectl command (get, apply, delete, rollout restart)
    tool_version: float = 30      # `helm version`
    dependency_build: float = 300  # `helm dependency build` of the chart
    query: float = 60             # a read (helm history/get, kubectl get, psql in a pod)
    helm_grace: float = 60        # the helm process may outlive its own --timeout by this much
    port_forward: float = 30      # `kubectl port-forward` announces its local port within this
    http: float = 15              # one request to the app
    database_ready: float = 120   # a (restarting) database pod becomes ready within this
    health_settle: float = 20     # a transient rollout state may settle before health is judged
    rollout_settle: float = 90    # old pods of a finished rollout are gone within this
    namespace_delete: float = 300  # a scenario namespace (PVCs included) is deleted within this
    uninstall: float = 120        # helm uninstall of a scenario release
    expected_failure: float = 90  # helm waits no longer than this for a failure the step expects
    helm_floor: float = 30        # helm never gets less than this for its --timeout


@dataclass(frozen=True)
class Reserve:
    """Seconds of a step's budget kept back for what follows an operation."""

    evidence: float = 20   # after a helm --timeout: collect events and logs before the step's deadline
    poll: float = 10       # after a wait loop: report what it saw
    helm_test: float = 30  # after helm test: read the test pods' phases
    rollout: float = 60    # after a rollout: let it settle, read the history and the logs


DEFAULTS = OperationTimeouts()
RESERVE = Reserve()


@dataclass(frozen=True)
class Budget:
    """`seconds` from `started` (time.monotonic()): the time one step (or operation) may take."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self, *, keep: float = 0.0, floor: float = 0.0) -> float:
        """Seconds left, minus `keep` held back for later, never below `floor`."""
        return max(floor, self.seconds - keep - self.elapsed())

    def deadline(self, *, keep: float = 0.0) -> float:
        """The time.monotonic() by which to stop, `keep` seconds before the end."""
        return self.started + self.seconds - keep

    def expired(self, *, keep: float = 0.0) -> bool:
        return time.monotonic() >= self.deadline(keep=keep)

    def for_helm(self, *, keep: float = RESERVE.evidence, floor: float = DEFAULTS.helm_floor) -> float:
        """A helm --timeout inside this budget: what is left minus `keep`, at least `floor`."""
        return self.remaining(keep=keep, floor=floor)
