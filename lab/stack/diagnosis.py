"""After a failure: the failing resources, their events and their last log lines — not a wall of YAML."""

from __future__ import annotations

import re
from collections.abc import Sequence

from lab.errors import LabError
from lab.kube import Kube, Workload, WorkloadState


class StackNotReady(LabError):
    """The release is installed but something does not become ready; `diagnosis` says what and why."""

    def __init__(self, message: str, hint: str | None, diagnosis: Sequence[str]) -> None:
        super().__init__(message, hint)
        self.diagnosis = list(diagnosis)


def diagnose(kube: Kube, workloads: Sequence[Workload], states: Sequence[WorkloadState | None],
             hook_names: Sequence[str] = ()) -> list[str]:
    """The failing resources, their events and the last log lines: not a wall of YAML."""
    lines: list[str] = []
    for workload, state in zip(workloads, states, strict=True):
        if state is not None and state.healthy:
            continue
        lines.append(f"{workload.ref}: {'missing' if state is None else state.summary}")
        for event in kube.events_for(workload.name, workload.kind, limit=3):
            if event.type == "Warning":
                lines.append(f"  event {event.reason}: {event.message}")
        for pod in (state.pods if state else ()):
            if pod.ready:
                continue
            lines.append(f"  pod {pod.name}: {pod.phase}{', ' + pod.problem if pod.problem else ''}")
            for event in kube.events_for(pod.name, "Pod", limit=3):
                if event.type == "Warning":
                    lines.append(f"    event {event.reason}: {event.message}")
            logs = kube.pod_logs(pod.name, tail_lines=6, previous=pod.restarts > 0).strip()
            for log_line in ([] if logs.startswith("(no logs") else logs.splitlines()[-6:]):
                lines.append(f"    log | {log_line}")
    for job in kube.hook_jobs():
        if job.outcome == "failed" or job.name in hook_names:
            lines.append(f"hook job/{job.name} ({job.hook}): {job.outcome} {job.message}".rstrip())
            for pod in kube.pods({"job-name": job.name}):
                for log_line in kube.pod_logs(pod.name, tail_lines=6).strip().splitlines():
                    lines.append(f"    log | {log_line}")
    return lines


def failing_objects(helm_error: str) -> list[str]:
    """Names of the objects a helm error blames (`job X failed`, `Deployment/ns/name`)."""
    names = re.findall(r"job ([a-z0-9][a-z0-9.-]*) failed", helm_error, re.IGNORECASE)
    names += re.findall(r"(?:Deployment|StatefulSet|Job|Pod)/[a-z0-9-]+/([a-z0-9][a-z0-9.-]*)", helm_error)
    return list(dict.fromkeys(names))


def helm_headline(stderr_tail: str) -> str:
    """The line of helm's error output that says what failed."""
    lines = stderr_tail.splitlines()
    return next((line for line in lines if line.startswith("Error")), lines[-1] if lines else "helm failed")
