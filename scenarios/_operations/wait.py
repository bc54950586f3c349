"""Waiting: for a crash, for a log line, for a rollout to settle or to fail."""

from __future__ import annotations

import time
from collections.abc import Iterable

from lab.scenario import Action, ActionResult, Evidence
from lab.scenario.model import LOG
from lab.scenario.ops import ClusterOps, operation
from lab.timeouts import DEFAULTS, RESERVE, Budget

APP = "rhdemo-app"
POLL_INTERVAL = 3.0


def wait_for_crash(component: str, text: str, *, name: str | None = None) -> Action:
    """Wait until a pod of `component` crashes with `text` in its log (a failure carrying that log)."""

    def run(ops: ClusterOps) -> ActionResult:
        budget = Budget(ops.step_timeout)
        while not budget.expired(keep=RESERVE.poll):
            crash = ops.workloads.find_crash(component, text)
            if crash is not None:
                return ActionResult.failure(f"pod/{crash.pod}: {crash.problem}",
                                            Evidence(LOG, f"pod/{crash.pod}", crash.logs))
            time.sleep(POLL_INTERVAL)
        return ActionResult.success(f"no pod of {component} crashed with {text!r}", *ops.workloads.logs(component))

    return operation(name or f"wait for {component} to crash", run,
                     (f"kubectl -n {{namespace}} logs -l app={component} --previous",))


def wait_for_log(component: str, text: str, *, container: str | None = None, name: str | None = None) -> Action:
    """Wait until `text` appears in the current log of a pod of `component` (success with that log)."""

    def run(ops: ClusterOps) -> ActionResult:
        budget = Budget(ops.step_timeout)
        seen: list[Evidence] = []
        while not budget.expired(keep=RESERVE.poll):
            seen = ops.workloads.logs(component, container)
            hit = next((e for e in seen if text in e.text), None)
            if hit is not None:
                return ActionResult.success(f"{hit.source} shows {text!r}", around(hit, text))
            time.sleep(POLL_INTERVAL)
        return ActionResult.timeout(f"{text!r} not in the logs of {component}", *seen)

    return operation(name or f"read the logs of {component}", run,
                     (f"kubectl -n {{namespace}} logs -l app={component}" + (f" -c {container}" if container else ""),))


def settle(ops: ClusterOps, seconds: float = DEFAULTS.rollout_settle) -> None:
    """Wait until the app's rollout is over (the old pods gone, not only the new one ready): `rollout
    status` and helm's --wait return while a replaced pod is still terminating."""
    ops.workloads.wait_healthy(APP, seconds)


def settled() -> Action:
    """The app's rollout is over (see `settle`); always completes, the step's expectation judges health."""
    seconds = DEFAULTS.rollout_settle

    def run(ops: ClusterOps) -> ActionResult:
        ok, detail = ops.workloads.wait_healthy(APP, seconds)
        return ActionResult.success(f"deployment/{APP} {detail}" + ("" if ok else f" (not settled after {seconds:.0f}s)"))

    return operation("wait for the rollout to settle", run, (f"kubectl -n {{namespace}} rollout status deployment/{APP}",))


def follow_app(ops: ClusterOps, budget: Budget, helm_evidence: Evidence, fail_text: str | None,
               before: Iterable[str] = ()) -> ActionResult:
    """After a helm upgrade without --wait: healthy -> ok; a crashed pod of the Deployment's current
    revision (possibly one that already crashed before, when the upgrade did not change the pod
    template) -> failure with its log."""
    earlier = set(before)
    detail = ""
    while not budget.expired(keep=RESERVE.poll):
        ok, detail = ops.workloads.wait_healthy(APP, 0, fail_on_crash=False)
        if ok:
            return ActionResult.success(f"deployment/{APP} rolled out: {detail}", helm_evidence)
        current = ops.workloads.current_pods(APP)
        # The current revision's pods; until the controller has caught up, anything new since the upgrade.
        crash = (ops.workloads.find_crash(APP, fail_text, only=current) if current is not None
                 else ops.workloads.find_crash(APP, fail_text, exclude=earlier))
        if crash is not None:
            return ActionResult.failure(f"pod/{crash.pod}: {crash.problem}", helm_evidence,
                                        Evidence(LOG, f"pod/{crash.pod}/{APP}", crash.logs))
        time.sleep(POLL_INTERVAL)
    return ActionResult.timeout(f"deployment/{APP} not rolled out: {detail}", helm_evidence,
                                *ops.workloads.logs(APP), *ops.workloads.events(warnings_only=True))


def around(evidence: Evidence, text: str, before: int = 4, after: int = 3) -> Evidence:
    """The log lines around the first line containing `text` (reports show the end of an excerpt)."""
    lines = evidence.text.splitlines()
    index = next(i for i, line in enumerate(lines) if text in line)
    return Evidence(evidence.kind, evidence.source, "\n".join(lines[max(0, index - before):index + after + 1]),
                    evidence.fields)
