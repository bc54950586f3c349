"""Availability as figures: what a steady stream of requests to the app saw while something happened.

A probe (`lab.app.AvailabilityProbe` on a cluster, a fake in tests) records one `Sample` per request;
`summarise` turns them into `Availability`, the data the scenario engine keeps per step and the
console and reports render. Nothing here talks to a cluster.

Failure kinds: `HTTP <status>` (an answer other than 2xx), `refused` (the connection was refused),
`closed` (the connection was closed or reset before an answer), `timeout` (no answer within the
request timeout), `unreachable` (no `kubectl proxy` to reach the Service through: kubectl could not start)."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

OK = "ok"
REFUSED, CLOSED, TIMEOUT, UNREACHABLE = "refused", "closed", "timeout", "unreachable"

# What the probe requests, through the app's Service: the API and the database health indicator.
API_PATH = "/api/employes?size=5"
DB_HEALTH_PATH = "/actuator/health/db"
PROBED_PATHS = (API_PATH, DB_HEALTH_PATH)
RATE = 5.0              # requests per second, per path
# Seconds a request may take before it counts as a timeout. Not less: the requests go through kubectl,
# the API server and the kubelet, which on a loaded 2-core machine stall for 2 s now and then (measured:
# 19 timeouts in 1.8 s on both paths at once, load average 38, while the app itself was fine).
REQUEST_TIMEOUT = 5.0


def http_status_kind(status: int) -> str:
    return OK if 200 <= status < 300 else f"HTTP {status}"


@dataclass(frozen=True)
class Sample:
    """One request: which path, when it started (seconds from the window's start), how long it
    took, and `OK` or its failure kind."""

    path: str
    at: float
    latency: float
    outcome: str

    @property
    def ok(self) -> bool:
        return self.outcome == OK


@dataclass(frozen=True)
class PathAvailability:
    path: str
    requests: int
    failed: int
    failures: Mapping[str, int]        # failure kind -> count
    longest_gap_s: float               # the longest time without a successful request
    p95_ms: float | None               # of the successful requests; None when none succeeded
    first_failure_s: float | None      # seconds from the window's start
    last_failure_s: float | None


@dataclass(frozen=True)
class Availability:
    """One window of probing (a step): totals over every probed path, then each path."""

    window_s: float
    rate: float                        # requests per second asked for, per path
    requests: int
    failed: int
    failures: Mapping[str, int]
    longest_gap_s: float               # the worst path's
    p95_ms: float | None
    first_failure_s: float | None
    last_failure_s: float | None
    paths: tuple[PathAvailability, ...]
    reconnects: int = 0                # times the probe had to reach the app again (a new port-forward)

    @property
    def succeeded(self) -> int:
        return self.requests - self.failed

    def path(self, path: str) -> PathAvailability | None:
        return next((p for p in self.paths if p.path == path or p.path.split("?")[0] == path), None)


def p95(latencies: Sequence[float]) -> float | None:
    """Nearest-rank 95th percentile, in milliseconds."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    return round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000, 1)


def longest_gap(success_times: Sequence[float], window: float) -> float:
    """The longest interval of the window with no successful request starting in it (the whole
    window when nothing succeeded)."""
    marks = [0.0, *sorted(t for t in success_times if 0 <= t <= window), window]
    return round(max(b - a for a, b in itertools.pairwise(marks)), 3)


def _path_figures(path: str, samples: Sequence[Sample], window: float) -> PathAvailability:
    failures = [s for s in samples if not s.ok]
    return PathAvailability(
        path=path, requests=len(samples), failed=len(failures),
        failures=dict(sorted(Counter(s.outcome for s in failures).items())),
        longest_gap_s=longest_gap([s.at for s in samples if s.ok], window),
        p95_ms=p95([s.latency for s in samples if s.ok]),
        first_failure_s=round(min(s.at for s in failures), 3) if failures else None,
        last_failure_s=round(max(s.at for s in failures), 3) if failures else None)


def summarise(samples: Sequence[Sample], window: float, *, paths: Sequence[str] = PROBED_PATHS,
              rate: float = RATE, reconnects: int = 0) -> Availability:
    window = max(window, 0.0)
    per_path = tuple(_path_figures(path, [s for s in samples if s.path == path], window) for path in paths)
    failures = [s for s in samples if not s.ok]
    return Availability(
        window_s=round(window, 3), rate=rate, requests=len(samples), failed=len(failures),
        failures=dict(sorted(Counter(s.outcome for s in failures).items())),
        longest_gap_s=max((p.longest_gap_s for p in per_path), default=round(window, 3)),
        p95_ms=p95([s.latency for s in samples if s.ok]),
        first_failure_s=round(min(s.at for s in failures), 3) if failures else None,
        last_failure_s=round(max(s.at for s in failures), 3) if failures else None,
        paths=per_path, reconnects=reconnects)


class Probe(Protocol):
    """What a probe gives once its block has ended (`with ctx.probe_availability() as probe: ...`)."""

    def figures(self) -> Availability: ...
