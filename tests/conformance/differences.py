"""The one list of deliberate differences between the stub and the reference Spring Boot app.

Each entry names the facet it applies to (a glob on `case/facet`), a regex matched against one
normalized line (or the whole value of a single-valued facet), and why the difference is accepted.
A line or value that differs and matches no entry fails the conformance suite."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Deliberate:
    facet: str          # glob on "case/facet"
    pattern: str        # regex searched in a differing line or value
    reason: str

    def covers(self, case: str, facet: str, line: str) -> bool:
        return fnmatch.fnmatch(f"{case}/{facet}", self.facet) and re.search(self.pattern, line) is not None


DELIBERATE: tuple[Deliberate, ...] = (
    Deliberate("*/*lines*", r"Starting RhdemoApplication v[\d.]+ using (Java|Python)",
               "the runtime: a JVM for the reference, CPython for the stub"),
    Deliberate("*/startup time", r".",
               "the stub exists to start in a fraction of the JVM's time (see benchmarks/conformance_benchmark.py)"),
)


def deliberate_reason(case: str, facet: str, line: str) -> str | None:
    for entry in DELIBERATE:
        if entry.covers(case, facet, line):
            return entry.reason
    return None
