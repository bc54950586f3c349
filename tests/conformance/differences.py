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
    # Hardening of the stub against bad input (issue 12): where the real app lets it through, the stub refuses.
    Deliberate("bad-input/API GET id ٣*", r"^404 .* \| 400 .*MethodArgumentTypeMismatch|^404 .* \| 400 .*type 'java.lang.Long'",
               "hardening: ids are ASCII digits only (Java's Long.parseLong also takes other Unicode decimal digits)"),
    Deliberate("bad-input/API POST prenom with NUL", r"^500 .*0x00.* \| 400 .*Validation failed",
               "hardening: NUL is refused as a validation error (the real app sends it and PostgreSQL's refusal is a 500)"),
    Deliberate("bad-input/API POST prenom with a lone surrogate", r"^201 .* \| 400 .*Validation failed",
               "hardening: an unpaired surrogate is refused (the real app stores it as '?')"),
    Deliberate("bad-input/rows stored by the requests above", r"^'A\?B'$",
               "hardening: an unpaired surrogate is refused (the real app stores it as '?')"),
    Deliberate("bad-input/API POST 2 MiB body", r"^400 .* \| 413 .*Maximum upload size of \d+ bytes exceeded",
               "hardening: bodies over 1 MiB are refused unread (Tomcat reads any JSON body whole)"),
    Deliberate("bad-input/API POST nom longer than its column*", r"^500 .*value too long.* \| 400 .*value too long",
               "hardening: a database data error (SQLSTATE 22) is the client's data, a 400 (the real app: a 500)"),
    Deliberate("bad-input/log lines*", r"For input string: \"٣\"\]$",
               "hardening: ids are ASCII digits only (Java's Long.parseLong also takes other Unicode decimal digits)"),
    Deliberate("bad-input/log lines*", r"0x00|unnamed portal parameter|SQLState: 22021|"
               r"DataIntegrityViolationException: could not execute statement \[ERROR: value too long|"
               r"^org\.postgresql\.util\.PSQLException: ERROR: value too long",
               "hardening: NUL refused before the database; a data error is a 400, so no servlet failure"),
    Deliberate("bad-input/log lines*", r"Resolved \[org\.springframework\.web\.bind\.MethodArgumentNotValidException: ",
               "the validation failure's WARN line lists field errors without rejected values, codes and arguments"),
)


def deliberate_reason(case: str, facet: str, line: str) -> str | None:
    for entry in DELIBERATE:
        if entry.covers(case, facet, line):
            return entry.reason
    return None
