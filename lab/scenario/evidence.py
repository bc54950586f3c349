"""What a context observes and hands back: evidence, a component's health, the `employes` table's
snapshot. Plain data, imported by both the context protocol and the scenario model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# Kinds of evidence the engine knows how to show; free text is allowed, these are the usual ones.
LOG = "log"          # a container's log lines
OUTPUT = "output"    # a command's stdout/stderr (helm, kubectl, psql)
EVENT = "event"      # a Kubernetes event; fields: type, reason, object, message
SQL = "sql"          # a query and its result
STATUS = "status"    # pod / job / release status
ERROR = "error"      # an exception raised by an action
NOTE = "note"        # anything else worth showing


@dataclass(frozen=True)
class Evidence:
    """Something observed: a log line, a Kubernetes event, an SQL result, a command's output."""

    kind: str
    source: str  # where it was seen: "pod/rhdemo-app-7d9f/app", "Pod/rhdemo-app-7d9f", "psql rhdemo"
    text: str
    fields: Mapping[str, str] = field(default_factory=dict)  # structured parts, e.g. an event's reason

    @classmethod
    def event(cls, *, object: str, reason: str, message: str, type: str = "Warning") -> Evidence:
        return cls(EVENT, object, f"{type} {reason}: {message}",
                   {"type": type, "reason": reason, "object": object, "message": message})


@dataclass(frozen=True)
class Health:
    """A component's health as the context sees it (readiness, actuator, helm test...)."""

    ok: bool
    detail: str
    evidence: Sequence[Evidence] = ()


@dataclass(frozen=True)
class DataSnapshot:
    """The `employes` table at one moment: its row count and a checksum of its rows' content."""

    rows: int
    checksum: str
