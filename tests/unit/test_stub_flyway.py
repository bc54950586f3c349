"""Flyway's checksum and validate rules, as the stub implements them (the real Flyway CLI checks
them against the same database in tests/integration/stub/test_flyway_interop.py)."""

from __future__ import annotations

import zlib

from rhdemo_stub.flyway import (AppliedMigration, ResolvedMigration, checksum, lock_id, pending,
                                validation_errors, version_key)


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= (1 << 31) else value


def test_checksum_is_crc32_of_lines_without_terminators() -> None:
    assert checksum("a\nb\n") == _signed(zlib.crc32(b"b", zlib.crc32(b"a")))
    assert checksum("a\nb\n") == checksum("a\r\nb\r\n") == checksum("a\rb") == checksum("\ufeffa\nb")


def test_checksum_ignores_empty_lines_and_hashes_utf8() -> None:
    # An empty line updates the CRC with no bytes: Flyway does not see blank-line edits either.
    assert checksum("a\n\nb") == checksum("a\nb")
    assert checksum("a\n b") != checksum("a\nb")
    assert checksum("é") == _signed(zlib.crc32("é".encode()))
    # Java's readLine splits on \n, \r and \r\n only; a vertical tab is part of the line.
    assert checksum("a\x0bb") == _signed(zlib.crc32(b"a\x0bb"))


def test_checksum_is_a_signed_int() -> None:
    values = [checksum(f"line {n}") for n in range(200)]
    assert all(-(1 << 31) <= v < (1 << 31) for v in values)
    assert any(v < 0 for v in values)


def test_versions_compare_numerically() -> None:
    assert version_key("1.0") == version_key("1")
    assert version_key("1.10") > version_key("1.9")


def _resolved(version: str, text: str = "") -> ResolvedMigration:
    return ResolvedMigration(version, f"m{version}", f"V{version}__m{version}.sql", checksum(text or version),
                             text or version, "here")


def _applied(rank: int, version: str, kind: str = "SQL", value: int | None = None) -> AppliedMigration:
    return AppliedMigration(rank, version, f"m{version}", kind, f"V{version}__m{version}.sql",
                            checksum(version) if value is None else value, "rhdemo", None, 1, True)


def test_pending_and_future_are_not_errors() -> None:
    assert validation_errors([_applied(1, "1")], [_resolved("1"), _resolved("2")]) == []
    assert validation_errors([_applied(1, "1"), _applied(2, "2")], [_resolved("1")]) == []


def test_checksum_mismatch_message() -> None:
    errors = validation_errors([_applied(1, "1", value=123)], [_resolved("1")])
    assert errors == [f"Migration checksum mismatch for migration version 1\n-> Applied to database : 123\n"
                      f"-> Resolved locally    : {checksum('1')}\n"
                      "Either revert the changes to the migration, or run repair to update the schema history."]


def test_missing_and_out_of_order_are_errors() -> None:
    missing = validation_errors([_applied(1, "1"), _applied(2, "2")], [_resolved("2"), _resolved("3")])
    assert missing[0].startswith("Detected applied migration not resolved locally: 1.")
    skipped = validation_errors([_applied(1, "2")], [_resolved("1"), _resolved("2")])
    assert skipped[0].startswith("Detected resolved migration not applied to database: 1.")


def test_baseline_covers_its_version_the_trap() -> None:
    history = [_applied(1, "1", kind="BASELINE", value=0)]
    resolved = [_resolved("1"), _resolved("2")]
    assert validation_errors(history, resolved) == []
    assert [m.version for m in pending(history, resolved)] == ["2"]


def test_lock_id_is_flyways_for_the_public_history_table() -> None:
    """Flyway: 'Flyway' as a number plus the Java hashCode of the quoted table name (read from its bytecode)."""
    name = '"public"."flyway_schema_history"'
    java_hash = sum(ord(ch) * 31 ** (len(name) - 1 - i) for i, ch in enumerate(name)) % (1 << 32)
    assert lock_id("public") == 77431708279161 + _signed(java_hash)
    assert lock_id("public") != lock_id("other")
