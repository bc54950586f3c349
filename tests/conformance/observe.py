"""What a person or a test observes, made comparable: log lines without timestamps, PIDs, threads,
hashes and timings; JSON bodies reduced to their shape (values kept where they carry meaning);
latencies and durations reduced to classes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z\s+(?P<level>[A-Z]+) \d+ --- \[[^\]]*\] \[[^\]]*\] "
                      r"(?P<logger>.{40}) : (?P<message>.*)$")
_FRAME = re.compile(r"^\s+(at |\.\.\. \d+ (common frames omitted|more))")


@dataclass(frozen=True)
class Context:
    """Values that differ between the two runs only because each has its own database and ports."""

    database: str
    user: str
    pg_port: str
    port: str
    management_port: str
    cwd: str


_MASKS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"@[0-9a-f]{5,8}\b"), "@<hash>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\(execution time \d\d:\d\d\.\d+s\)"), "(execution time <t>)"),
    (re.compile(r"in [\d.]+ seconds \(process running for [\d.]+\)"), "in <s> seconds (process running for <s>)"),
    (re.compile(r"completed in \d+ ms"), "completed in <n> ms"),
    (re.compile(r"scanning in \d+ ms"), "scanning in <n> ms"),
    (re.compile(r"Completed initialization in \d+ ms"), "Completed initialization in <n> ms"),
    (re.compile(r"took \d+ms"), "took <n>ms"),
    # Hikari's own measure of its wait and the number of waiting threads vary by a few ms and requests.
    (re.compile(r"request timed out after \d+ms"), "request timed out after <n>ms"),
    (re.compile(r"\(total=\d+, active=\d+, idle=\d+, waiting=\d+\)"),
     "(total=<n>, active=<n>, idle=<n>, waiting=<n>)"),
    (re.compile(r"PostgreSQL \d+(\.\d+)?"), "PostgreSQL <version>"),
    (re.compile(r"Database version: \d+(\.\d+)?"), "Database version: <version>"),
    (re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z?"), "<timestamp>"),
]


def normalize(text: str, ctx: Context) -> str:
    for value, token in ((ctx.database, "<db>"), (ctx.user, "<user>"), (ctx.cwd, "<cwd>")):
        text = text.replace(value, token)
    for value, token in ((ctx.management_port, "<management-port>"), (ctx.port, "<port>"),
                         (ctx.pg_port, "<pg-port>")):
        text = re.sub(rf"\b{value}\b", token, text)
    for pattern, token in _MASKS:
        text = pattern.sub(token, text)
    return text.rstrip()


def log_entries(lines: list[str], ctx: Context) -> list[str]:
    """One comparable string per line a person reads: `LEVEL logger : message` for log lines, the text
    itself for exception and continuation lines; stack frames, blanks and the banner are dropped."""
    out: list[str] = []
    in_banner = False
    for raw in lines:
        if not raw.strip() or _FRAME.match(raw):
            continue
        if raw.startswith("  .   ____"):
            in_banner = True
        if in_banner:
            in_banner = ":: Spring Boot ::" not in raw
            continue
        match = LOG_LINE.match(raw)
        if match:
            out.append(normalize(f"{match['level']} {match['logger'].strip()} : {match['message']}", ctx))
        else:
            out.append(normalize(raw, ctx))
    return out


def failure_block(lines: list[str], ctx: Context) -> list[str]:
    """From the first WARN/ERROR log line to the end: what a person reads when a start fails."""
    entries = log_entries(lines, ctx)
    for index, entry in enumerate(entries):
        if entry.startswith(("WARN ", "ERROR ")):
            return entries[index:]
    return []


def startup_lines(lines: list[str], ctx: Context) -> list[str]:
    """INFO lines up to the first WARN/ERROR or the `Started` line."""
    out = []
    for entry in log_entries(lines, ctx):
        if entry.startswith(("WARN ", "ERROR ")):
            break
        out.append(entry)
        if "Started RhdemoApplication" in entry:
            break
    return out


_KEPT = {"status", "error", "state", "type", "version", "description", "script", "checksum", "database",
         "validationQuery", "templated", "installedRank", "table", "columns", "migrations", "name", "artifact",
         "exists", "threshold", "href", "validChains", "invalidChains", "message", "path"}


def shape(value: Any, ctx: Context, key: str | None = None) -> Any:
    """A JSON body with the values that carry no meaning (sizes, times, ids) replaced by their type."""
    if isinstance(value, dict):
        return {k: shape(v, ctx, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(v, ctx, key) for v in value]
    if key in _KEPT or key is None:
        return normalize(value, ctx) if isinstance(value, str) else value
    return type(value).__name__


def json_shape(body: str, ctx: Context) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return f"not JSON: {normalize(body[:120], ctx)!r}"
    return json.dumps(shape(parsed, ctx), sort_keys=True)


def latency_class(seconds: float, connection_timeout: float) -> str:
    """`fast` (< 2 s: an answer, not a wait for the pool, even on a busy 2-core machine), `connection-timeout`
    (the pool's timeout, within 0.9x..x+5 s), else the seconds."""
    if seconds < 2.0:
        return "fast (< 2 s)"
    if 0.9 * connection_timeout <= seconds <= connection_timeout + 5:
        return f"connection-timeout ({connection_timeout:g} s)"
    return f"{seconds:.0f} s"


def recovery_class(seconds: float | None) -> str:
    """Prompt (the pool reconnects at once) versus a back-off a person notices."""
    if seconds is None:
        return "never (within the wait)"
    if seconds < 5.0:
        return "within 5 s"
    if seconds < 30.0:
        return "5-30 s"
    return "over 30 s"
