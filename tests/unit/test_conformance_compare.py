"""The conformance suite's comparison rules (tests/conformance): normalization, shapes, classes, verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import compare, observe
from tests.conformance.differences import DELIBERATE, deliberate_reason

CTX = observe.Context(database="db_1234", user="rhdemo_ab", pg_port="5432", port="8080", management_port="9000",
                      cwd="/tmp/run")


def test_log_lines_lose_what_differs_between_two_runs_only() -> None:
    raw = ["2026-12-02T06:49:51.009Z  INFO 15635 --- [rhdemo] [           main] com.zaxxer.hikari.pool.HikariPool  "
           "      : HikariPool-1 - Added connection org.postgresql.jdbc.PgConnection@221ca495",
           "\tat org.postgresql.Driver.connect(Driver.java:1)",
           "Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
           "request timed out after 30001ms (total=1, active=1, idle=0, waiting=1)",
           "\t... 61 common frames omitted", ""]
    assert observe.log_entries(raw, CTX) == [
        "INFO com.zaxxer.hikari.pool.HikariPool : HikariPool-1 - Added connection org.postgresql.jdbc.PgConnection@<hash>",
        "Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
        "request timed out after <n>ms (total=<n>, active=<n>, idle=<n>, waiting=<n>)"]


def test_the_spring_banner_is_not_a_log_line() -> None:
    banner = ["", "  .   ____          _            __ _ _", " =========|_|==============|___/=/_/_/_/", "",
              " :: Spring Boot ::               (v3.5.16)", "after"]
    assert observe.log_entries(banner, CTX) == ["after"]


def test_json_shape_keeps_meaning_and_drops_sizes() -> None:
    body = '{"status":"UP","details":{"total":1,"path":"/tmp/run/.","threshold":10485760}}'
    assert observe.json_shape(body, CTX) == \
        '{"details": {"path": "<cwd>/.", "threshold": 10485760, "total": "int"}, "status": "UP"}'
    assert observe.json_shape("<html>", CTX).startswith("not JSON")


@pytest.mark.parametrize(("seconds", "timeout", "expected"), [
    (0.2, 30, "fast (< 2 s)"), (30.1, 30, "connection-timeout (30 s)"), (3.0, 3, "connection-timeout (3 s)"),
    (12.0, 30, "12 s")])
def test_latency_classes(seconds: float, timeout: float, expected: str) -> None:
    assert observe.latency_class(seconds, timeout) == expected


def test_recovery_classes() -> None:
    assert observe.recovery_class(0.3) == "within 5 s"
    assert observe.recovery_class(50) == "over 30 s"
    assert observe.recovery_class(None).startswith("never")


def test_an_unlisted_difference_fails_and_a_listed_one_is_explained() -> None:
    rows = compare.compare("case", {"exit code": "143", "startup lines": ["A", "Starting RhdemoApplication v1.0 using Java 17"]},
                           {"exit code": "0", "startup lines": ["A", "Starting RhdemoApplication v1.0 using Python 3.13"]})
    by_facet = {row.facet: row for row in rows}
    assert by_facet["exit code"].failed
    assert by_facet["exit code"].details == ["- reference: 143", "+ stub:      0"]
    assert not by_facet["startup lines"].failed
    assert by_facet["startup lines"].verdict.startswith("deliberate: the runtime")


def test_a_facet_seen_by_one_side_only_is_a_difference() -> None:
    rows = compare.compare("case", {"GET /actuator": "200"}, {})
    assert rows[0].failed and rows[0].stub == "(not observed)"


def test_every_deliberate_difference_gives_its_reason() -> None:
    assert all(entry.reason and entry.pattern for entry in DELIBERATE)
    assert deliberate_reason("healthy-flyway-on", "startup time", "31.0 s | 1.2 s")
    assert deliberate_reason("healthy-flyway-on", "exit code after SIGTERM", "143 | 0") is None


def test_the_table_is_written_between_its_markers_only(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"before\n{compare.BEGIN}\nold\n{compare.END}\nafter\n")
    compare.write_table(doc, "| new |")
    assert doc.read_text() == f"before\n{compare.BEGIN}\n| new |\n{compare.END}\nafter\n"
    doc.write_text("no markers")
    with pytest.raises(AssertionError):
        compare.write_table(doc, "| new |")
