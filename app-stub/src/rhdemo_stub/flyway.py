"""In-app Flyway (the seed's Solution 4B), compatible with the real Flyway 10 on PostgreSQL:
the same `flyway_schema_history` table, the same checksums, the same validate rules and messages.

Each migration runs in its own transaction holding a PostgreSQL advisory transaction lock, like
Flyway's PostgreSQL support, so replicas starting at once apply each migration exactly once; a
failing migration rolls back with its transaction and leaves no history row (PostgreSQL has
transactional DDL, so Flyway records nothing either).
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

HISTORY_TABLE = "flyway_schema_history"
BASELINE_TYPE = "BASELINE"
_MIGRATION_NAME = re.compile(r"^V(?P<version>[0-9]+(?:[._][0-9]+)*)__(?P<description>.+)\.sql$")


class FlywayError(Exception):
    """A Flyway failure; `java_class` is the exception class the real Flyway throws."""

    def __init__(self, message: str, java_class: str = "org.flywaydb.core.api.FlywayException") -> None:
        super().__init__(message)
        self.java_class = java_class


def checksum(text: str) -> int:
    """Flyway's checksum: CRC32 updated with the UTF-8 bytes of each line (BOM and line
    terminators excluded, lines split like Java's BufferedReader.readLine), as a signed int."""
    text = text.removeprefix("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()  # a final terminator does not start another line
    crc = 0
    for line in lines:
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return crc - (1 << 32) if crc >= (1 << 31) else crc


def version_key(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()  # Flyway: 1.0 == 1
    return tuple(parts)


@dataclass(frozen=True)
class ResolvedMigration:
    version: str
    description: str
    script: str
    checksum: int
    sql: str
    physical_location: str

    @property
    def key(self) -> tuple[int, ...]:
        return version_key(self.version)


@dataclass(frozen=True)
class AppliedMigration:
    installed_rank: int
    version: str | None
    description: str
    type: str
    script: str
    checksum: int | None
    installed_by: str
    installed_on: Any
    execution_time: int
    success: bool

    @property
    def key(self) -> tuple[int, ...] | None:
        return version_key(self.version) if self.version else None


def _parse_name(name: str) -> tuple[str, str] | None:
    match = _MIGRATION_NAME.match(name)
    if not match:
        return None
    return match["version"].replace("_", "."), match["description"].replace("_", " ")


def resolve(locations: Sequence[str], bundled: Sequence[str]) -> list[ResolvedMigration]:
    """Versioned SQL migrations from `classpath:db/migration` (the scripts bundled with this model
    release) and `filesystem:` directories, sorted by version."""
    found: list[ResolvedMigration] = []
    for location in locations:
        if location.startswith("classpath:"):
            path = location.removeprefix("classpath:").strip("/")
            if path != "db/migration":
                continue  # nothing else is on this app's classpath
            root = resources.files("rhdemo_stub").joinpath("db", "migration")
            for name in bundled:
                text = root.joinpath(name).read_text(encoding="utf-8")
                found.append(_migration(name, name, text, f"{path}/{name}"))
        else:
            directory = Path(location.removeprefix("filesystem:"))
            if not directory.is_dir():
                # Flyway only warns about a missing location.
                continue
            for file in sorted(directory.rglob("*.sql")):
                if _parse_name(file.name) is None:
                    continue
                relative = file.relative_to(directory).as_posix()
                found.append(_migration(file.name, relative, file.read_text(encoding="utf-8"), str(file)))
    found.sort(key=lambda m: m.key)
    for first, second in zip(found, found[1:], strict=False):
        if first.key == second.key:
            raise FlywayError(
                f"Found more than one migration with version {first.version}\n"
                f"Offenders:\n-> {first.physical_location} (SQL)\n-> {second.physical_location} (SQL)",
                "org.flywaydb.core.api.FlywayException")
    return found


def _migration(name: str, script: str, text: str, physical: str) -> ResolvedMigration:
    parsed = _parse_name(name)
    if parsed is None:
        raise FlywayError(f"Invalid migration name: {name}")
    version, description = parsed
    return ResolvedMigration(version=version, description=description, script=script,
                             checksum=checksum(text), sql=text.removeprefix("\ufeff"),
                             physical_location=physical)


def lock_id(schema: str) -> int:
    """One advisory lock per history table, derived from its quoted name like Flyway does."""
    name = f'"{schema}"."{HISTORY_TABLE}"'
    h = 0
    for ch in name:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    java_hash = h - (1 << 32) if h >= (1 << 31) else h
    magic = (0x46 << 40) + (0x6C << 32) + (0x79 << 24) + (0x77 << 16) + (0x61 << 8) + 0x79  # "Flyway"
    return magic + java_hash


def history_exists(conn: psycopg.Connection, schema: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                       (f'"{schema}"."{HISTORY_TABLE}"',)).fetchone()
    return bool(row and row[0])


def create_history_table(conn: psycopg.Connection, schema: str) -> None:
    table = sql.Identifier(schema, HISTORY_TABLE)
    conn.execute(sql.SQL("""CREATE TABLE IF NOT EXISTS {} (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL,
    CONSTRAINT {} PRIMARY KEY ("installed_rank"))""").format(table, sql.Identifier(f"{HISTORY_TABLE}_pk")))
    conn.execute(sql.SQL('CREATE INDEX IF NOT EXISTS {} ON {} ("success")').format(
        sql.Identifier(f"{HISTORY_TABLE}_s_idx"), table))


def read_history(conn: psycopg.Connection, schema: str) -> list[AppliedMigration]:
    rows = conn.execute(sql.SQL(
        'SELECT installed_rank, version, description, type, script, checksum, installed_by, installed_on, '
        'execution_time, success FROM {} ORDER BY installed_rank').format(
            sql.Identifier(schema, HISTORY_TABLE))).fetchall()
    return [AppliedMigration(*row) for row in rows]


def schema_is_empty(conn: psycopg.Connection, schema: str) -> bool:
    """Flyway's notion of an empty PostgreSQL schema: no table, view, sequence, function or type."""
    row = conn.execute("""
        SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = %(s)s AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f'))
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                           WHERE n.nspname = %(s)s)
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                           WHERE n.nspname = %(s)s AND t.typtype IN ('e', 'd', 'r')
                             OR (n.nspname = %(s)s AND t.typtype = 'c' AND t.typrelid IN
                                 (SELECT oid FROM pg_catalog.pg_class WHERE relkind = 'c')))""",
                       {"s": schema}).fetchone()
    return bool(row and row[0])


def _baseline_key(applied: Sequence[AppliedMigration]) -> tuple[int, ...] | None:
    for row in applied:
        if row.type == BASELINE_TYPE and row.key is not None:
            return row.key
    return None


def validation_errors(applied: Sequence[AppliedMigration], resolved: Sequence[ResolvedMigration]) -> list[str]:
    """Flyway's validate with its migrate defaults: pending migrations are fine, applied migrations
    newer than every local one are "future" and ignored (ignoreMigrationPatterns=*:future)."""
    errors: list[str] = []
    by_key = {m.key: m for m in resolved}
    max_resolved = max((m.key for m in resolved), default=None)
    baseline = _baseline_key(applied)
    versioned = [a for a in applied if a.key is not None and a.type != BASELINE_TYPE
                 and a.type not in ("SCHEMA", "DELETE")]
    for row in versioned:
        local = by_key.get(row.key)  # type: ignore[arg-type]
        if not row.success:
            errors.append(f"Detected failed migration to version {row.version} ({row.description}).\n"
                          "Please remove any half-completed changes then run repair to fix the schema history.")
            continue
        if local is None:
            if max_resolved is not None and row.key > max_resolved:  # type: ignore[operator]
                continue  # future migration
            errors.append(f"Detected applied migration not resolved locally: {row.version}.\n"
                          "If you removed this migration intentionally, run repair to mark the migration as deleted.")
            continue
        if row.type != "SQL":
            errors.append(f"Migration type mismatch for migration version {row.version}\n"
                          f"-> Applied to database : {row.type}\n-> Resolved locally    : SQL")
        elif row.checksum != local.checksum:
            errors.append(f"Migration checksum mismatch for migration version {row.version}\n"
                          f"-> Applied to database : {row.checksum}\n"
                          f"-> Resolved locally    : {local.checksum}\n"
                          "Either revert the changes to the migration, or run repair to update the schema history.")
        elif row.description != local.description:
            errors.append(f"Migration description mismatch for migration version {row.version}\n"
                          f"-> Applied to database : {row.description}\n"
                          f"-> Resolved locally    : {local.description}\n"
                          "Either revert the changes to the migration, or run repair to update the schema history.")
    applied_keys = {a.key for a in versioned if a.key is not None}
    max_applied = max(applied_keys, default=None)
    for local in resolved:
        if local.key in applied_keys or (baseline is not None and local.key <= baseline):
            continue
        if max_applied is not None and local.key < max_applied:
            errors.append(f"Detected resolved migration not applied to database: {local.version}.\n"
                          f"To ignore this migration, set -ignoreMigrationPatterns='*:ignored'. "
                          "To allow executing this migration, set -outOfOrder=true.")
    return errors


def validated_count(applied: Sequence[AppliedMigration], resolved: Sequence[ResolvedMigration]) -> int:
    """What Flyway counts in "Successfully validated N migrations": every history row, plus each local
    migration no versioned row applied (one covered by a baseline row still counts)."""
    applied_keys = {a.key for a in applied if a.type != BASELINE_TYPE and a.key is not None}
    return len(applied) + sum(1 for m in resolved if m.key not in applied_keys)


def validate_message(errors: Sequence[str]) -> str:
    return ("Validate failed: Migrations have failed validation\n" + "\n".join(errors)
            + "\nNeed more flexibility with validation rules? Learn more: https://rd.gt/3AbJUZE")


def pending(applied: Sequence[AppliedMigration], resolved: Sequence[ResolvedMigration]) -> list[ResolvedMigration]:
    done = {a.key for a in applied if a.key is not None and a.success}
    current = max(done, default=None)
    return [m for m in resolved if m.key not in done and (current is None or m.key > current)]


def current_version(applied: Sequence[AppliedMigration]) -> str | None:
    versions = [a for a in applied if a.key is not None and a.success]
    if not versions:
        return None
    return max(versions, key=lambda a: a.key or ()).version


def _elapsed(start: float) -> str:
    ms = int((time.monotonic() - start) * 1000)
    return f"{ms // 60000:02d}:{(ms // 1000) % 60:02d}.{ms % 1000:03d}s"


@dataclass(frozen=True)
class FlywaySettings:
    baseline_on_migrate: bool
    baseline_version: str
    baseline_description: str
    validate_on_migrate: bool


def migrate(conn: psycopg.Connection, resolved: Sequence[ResolvedMigration], settings: FlywaySettings,
            log: Callable[[str, str, str], None]) -> int:
    """Flyway.migrate(): validate, create or baseline the history, apply pending migrations.
    Returns how many migrations this process applied. `conn` must be in autocommit: each step is its own transaction."""
    schema = conn.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
    table_name = f'"{schema}"."{HISTORY_TABLE}"'
    applied_here: list[ResolvedMigration] = []
    started = time.monotonic()
    first = True
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_id(schema),))
            exists = history_exists(conn, schema)
            if first:
                validate_started = time.monotonic()
                if not exists:
                    log("INFO", "o.f.c.i.s.JdbcTableSchemaHistory",
                        f"Schema history table {table_name} does not exist yet")
                if settings.validate_on_migrate:
                    history = read_history(conn, schema) if exists else []
                    errors = validation_errors(history, resolved)
                    if errors:
                        raise FlywayError(validate_message(errors),
                                          "org.flywaydb.core.api.exception.FlywayValidateException")
                    count = validated_count(history, resolved)
                    log("INFO", "o.f.core.internal.command.DbValidate",
                        f"Successfully validated {count} migration{'s' if count != 1 else ''} "
                        f"(execution time {_elapsed(validate_started)})")
            if not exists:
                if schema_is_empty(conn, schema):
                    log("INFO", "o.f.c.i.s.JdbcTableSchemaHistory", f"Creating Schema History table {table_name} ...")
                    create_history_table(conn, schema)
                elif settings.baseline_on_migrate:
                    log("INFO", "o.f.c.i.s.JdbcTableSchemaHistory",
                        f"Creating Schema History table {table_name} with baseline ...")
                    create_history_table(conn, schema)
                    _insert(conn, schema, 1, settings.baseline_version, settings.baseline_description,
                            BASELINE_TYPE, settings.baseline_description, None, 0)
                    log("INFO", "o.f.core.internal.command.DbBaseline",
                        f"Successfully baselined schema with version: {settings.baseline_version}")
                else:
                    raise FlywayError(
                        f'Found non-empty schema(s) "{schema}" but no schema history table. Use baseline() '
                        "or set baselineOnMigrate to true to initialize the schema history table.")
            history = read_history(conn, schema)
            if first:
                version = current_version(history)
                log("INFO", "o.f.core.internal.command.DbMigrate",
                    f'Current version of schema "{schema}": {version if version else "<< Empty Schema >>"}')
                first = False
            todo = pending(history, resolved)
            if not todo:
                break
            migration = todo[0]
            log("INFO", "o.f.core.internal.command.DbMigrate",
                f'Migrating schema "{schema}" to version "{migration.version} - {migration.description}"')
            one_started = time.monotonic()
            try:
                with conn.transaction():  # a savepoint, so the failure text comes from the statement itself
                    conn.execute(migration.sql.encode("utf-8"))
            except psycopg.Error as exc:
                raise FlywayError(_migration_failure(migration, exc),
                                  "org.flywaydb.core.internal.command.DbMigrate$FlywayMigrateException") from None
            rank = max((a.installed_rank for a in history), default=0) + 1
            _insert(conn, schema, rank, migration.version, migration.description, "SQL", migration.script,
                    migration.checksum, int((time.monotonic() - one_started) * 1000))
            applied_here.append(migration)
    if applied_here:
        last = applied_here[-1].version
        n = len(applied_here)
        log("INFO", "o.f.core.internal.command.DbMigrate",
            f'Successfully applied {n} migration{"s" if n != 1 else ""} to schema "{schema}", '
            f"now at version v{last} (execution time {_elapsed(started)})")
    else:
        log("INFO", "o.f.core.internal.command.DbMigrate", f'Schema "{schema}" is up to date. No migration necessary.')
    return len(applied_here)


def _insert(conn: psycopg.Connection, schema: str, rank: int, version: str, description: str, kind: str,
            script: str, checksum_value: int | None, execution_ms: int) -> None:
    conn.execute(sql.SQL(
        "INSERT INTO {} (installed_rank, version, description, type, script, checksum, installed_by, "
        "execution_time, success) VALUES (%s, %s, %s, %s, %s, %s, current_user, %s, true)").format(
            sql.Identifier(schema, HISTORY_TABLE)),
        (rank, version, description, kind, script, checksum_value, execution_ms))


def _migration_failure(migration: ResolvedMigration, exc: psycopg.Error) -> str:
    diag = exc.diag
    message = f"{diag.severity or 'ERROR'}: {diag.message_primary or str(exc).strip()}"
    if diag.statement_position:
        message += f"\n  Position: {diag.statement_position}"
    return (f"Migration {Path(migration.script).name} failed\n"
            f"{'-' * (len(Path(migration.script).name) + 17)}\n"
            f"SQL State  : {exc.sqlstate or ''}\n"
            f"Error Code : 0\n"
            f"Message    : {message}\n"
            f"Location   : {migration.physical_location}")


def describe(history: Sequence[AppliedMigration], resolved: Sequence[ResolvedMigration]) -> list[dict[str, Any]]:
    """What /actuator/flyway lists, in Flyway's order (by version; a local migration the baseline replaced
    comes just before the baseline row). Spring's actuator JSON leaves out null fields."""
    baseline = _baseline_key(history)
    by_key = {m.key: m for m in resolved}
    max_resolved = max(by_key, default=None)
    ordered: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for row in history:
        if row.type == BASELINE_TYPE:
            state = "BASELINE"
        elif not row.success:
            state = "FAILED"
        elif row.key not in by_key and max_resolved is not None and row.key > max_resolved:  # type: ignore[operator]
            state = "FUTURE_SUCCESS"
        elif row.key not in by_key:
            state = "MISSING_SUCCESS"
        else:
            state = "SUCCESS"
        installed_on = row.installed_on.isoformat(timespec="milliseconds") + "Z" if row.installed_on else None
        ordered.append(((row.key or (), 1, row.installed_rank), {
            "type": row.type, "checksum": row.checksum, "version": row.version, "description": row.description,
            "script": row.script, "state": state, "installedBy": row.installed_by, "installedOn": installed_on,
            "installedRank": row.installed_rank, "executionTime": row.execution_time}))
    done = {row.key for row in history if row.key is not None and row.type != BASELINE_TYPE}
    for migration in resolved:
        if migration.key in done:
            continue
        if baseline is not None and migration.key < baseline:
            state = "BELOW_BASELINE"
        elif baseline is not None and migration.key == baseline:
            state = "BASELINE_IGNORED"
        else:
            state = "PENDING"
        ordered.append(((migration.key, 0, 0), {
            "type": "SQL", "checksum": migration.checksum, "version": migration.version,
            "description": migration.description, "script": migration.script, "state": state}))
    ordered.sort(key=lambda item: item[0])
    return [{k: v for k, v in entry.items() if v is not None} for _, entry in ordered]
