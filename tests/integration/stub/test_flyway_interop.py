"""The stub's Flyway against the real Flyway command-line tool, both directions."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import psycopg
import pytest

from rhdemo_stub import flyway
from tests.integration.stub.conftest import MIGRATIONS, StubRunner, run_flyway
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration

_MISMATCH = re.compile(r"Migration checksum mismatch for migration version 1\n"
                       r"-> Applied to database : (-?\d+)\n-> Resolved locally    : (-?\d+)\n"
                       r"Either revert the changes to the migration, or run repair to update the schema history\.")


def _location(tmp_path: Path, *names: str) -> Path:
    location = tmp_path / "sql"
    location.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(MIGRATIONS / name, location / name)
    return location


def _history(pg_server: PgServer, database: dict[str, str]) -> list[tuple]:
    with pg_server.admin(database["name"]) as conn:
        return conn.execute("SELECT installed_rank, version, description, type, script, checksum, installed_by, "
                            "success FROM flyway_schema_history ORDER BY installed_rank").fetchall()


def _history_table_shape(pg_server: PgServer, database: dict[str, str]) -> list[tuple]:
    with pg_server.admin(database["name"]) as conn:
        columns = conn.execute(
            "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_name = 'flyway_schema_history' ORDER BY ordinal_position"
        ).fetchall()
        indexes = conn.execute("SELECT indexname, regexp_replace(indexdef, '^.* USING ', '') FROM pg_indexes "
                               "WHERE tablename = 'flyway_schema_history' ORDER BY indexname").fetchall()
    return columns + indexes


def test_stub_history_passes_real_flyway_validate(stubs: StubRunner, pg_database: dict[str, str],
                                                   tmp_path: Path) -> None:
    stubs.run_started(RHDEMO_APP_VERSION="1.1").stop()
    result = run_flyway(pg_database, _location(tmp_path, "V1__initial_schema.sql", "V2__add_phone_column.sql"),
                        "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully validated 2 migrations" in result.stdout


def test_real_flyway_history_is_accepted_by_the_stub(stubs: StubRunner, pg_server: PgServer,
                                                     pg_database: dict[str, str], tmp_path: Path) -> None:
    result = run_flyway(pg_database, _location(tmp_path, "V1__initial_schema.sql"), "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    flyway_rows = _history(pg_server, pg_database)
    # The checksum the real Flyway computed is the stub's.
    assert flyway_rows[0][5] == flyway.checksum((MIGRATIONS / "V1__initial_schema.sql").read_text())
    stub = stubs.run_started(RHDEMO_APP_VERSION="1.1")  # validate-on-migrate, then V2
    stub.stop()
    assert "Successfully validated 2 migrations" in stub.output
    assert 'Successfully applied 1 migration to schema "public", now at version v2' in stub.output
    rows = _history(pg_server, pg_database)
    assert rows[0] == flyway_rows[0]
    assert [r[1] for r in rows] == ["1", "2"]


def test_a_changed_migration_is_rejected_by_both_with_the_same_mismatch(stubs: StubRunner,
                                                                        pg_database: dict[str, str],
                                                                        tmp_path: Path) -> None:
    location = _location(tmp_path, "V1__initial_schema.sql")
    stubs.run_started(SPRING_FLYWAY_LOCATIONS=f"filesystem:{location}").stop()
    script = location / "V1__initial_schema.sql"
    script.write_text(script.read_text() + "CREATE INDEX IF NOT EXISTS idx_employes_mail2 ON employes(mail);\n")

    stub = stubs.run_failing(SPRING_FLYWAY_LOCATIONS=f"filesystem:{location}")
    real = run_flyway(pg_database, location, "validate")
    assert real.returncode != 0
    stub_match = _MISMATCH.search(stub.output)
    real_match = _MISMATCH.search(real.stdout + real.stderr)
    assert stub_match and real_match, stub.output + real.stdout + real.stderr
    assert stub_match.groups() == real_match.groups()
    assert stub_match.group(1) != stub_match.group(2)
    assert "Validate failed: Migrations have failed validation" in stub.output
    assert "FlywayValidateException" in stub.output


def test_baseline_on_migrate_skips_v1_like_flyway(stubs: StubRunner, pg_server: PgServer,
                                                  pg_database: dict[str, str], tmp_path: Path) -> None:
    """The trap: initdb already created employes; baseline at version 1 means V1 never runs, so its
    indexes are missing — with the stub exactly as with the real Flyway."""
    def initdb_table(conn: psycopg.Connection) -> None:
        conn.execute("CREATE TABLE employes (id bigserial PRIMARY KEY, prenom varchar(250) NOT NULL, "
                     "nom varchar(250) NOT NULL, mail varchar(250) NOT NULL, adresse varchar(500))")

    with pg_server.admin(pg_database["name"]) as conn:
        initdb_table(conn)
    stub = stubs.run_started(SPRING_FLYWAY_BASELINE_ON_MIGRATE="true")
    stub.stop()
    assert "Successfully baselined schema with version: 1" in stub.output
    stub_rows = [(r[1], r[2], r[3], r[4], r[5]) for r in _history(pg_server, pg_database)]

    other_name = pg_server.create_database(owner=pg_database["user"], password=pg_database["password"])
    other = {**pg_database, "name": other_name, "jdbc_url": pg_server.jdbc_url(other_name)}
    with pg_server.admin(other_name) as conn:
        initdb_table(conn)
    result = run_flyway(other, _location(tmp_path, "V1__initial_schema.sql"), "-baselineOnMigrate=true", "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    flyway_rows = [(r[1], r[2], r[3], r[4], r[5]) for r in _history(pg_server, other)]

    assert stub_rows == flyway_rows == [("1", "<< Flyway Baseline >>", "BASELINE", "<< Flyway Baseline >>", None)]
    for name in (pg_database["name"], other_name):
        with pg_server.admin(name) as conn:
            indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'employes'")}
        assert "idx_employes_mail" not in indexes


_FLYWAY_LOGGERS = ("o.f.", "org.flywaydb.")
_TIMES = re.compile(r" \(execution time [0-9:.]+s\)")


def _stub_flyway_lines(output: str) -> list[str]:
    """The stub's Flyway messages without the log prefix, banner and database line."""
    lines = []
    for line in output.splitlines():
        if " : " not in line:
            continue
        logger, _, message = line.partition(" : ")
        if logger.split("]")[-1].strip().startswith(_FLYWAY_LOGGERS):
            lines.append(_TIMES.sub("", message))
    return [m for m in lines if "by Redgate" not in m and "release notes" not in m and not m.startswith("Database:")]


def _cli_flyway_lines(output: str) -> list[str]:
    keep = False
    lines = []
    for line in output.splitlines():
        if line.startswith("Database:"):
            keep = True
            continue
        if keep and line.strip():
            lines.append(_TIMES.sub("", line.strip()))
    return lines


def _fresh(pg_server: PgServer, database: dict[str, str]) -> dict[str, str]:
    name = pg_server.create_database(owner=database["user"], password=database["password"])
    return {**database, "name": name, "jdbc_url": pg_server.jdbc_url(name)}


def _owned_table(pg_server: PgServer, database: dict[str, str]) -> None:
    with pg_server.admin(database["name"]) as conn:
        conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(database["user"])))
        conn.execute("CREATE TABLE employes (id bigserial PRIMARY KEY, prenom varchar(250) NOT NULL, "
                     "nom varchar(250) NOT NULL, mail varchar(250) NOT NULL, adresse varchar(500))")


@pytest.mark.parametrize("baseline", [False, True], ids=["empty-schema", "baseline-on-migrate"])
def test_flyway_log_lines_match_the_real_cli(stubs: StubRunner, pg_server: PgServer, pg_database: dict[str, str],
                                             tmp_path: Path, baseline: bool) -> None:
    """Same messages, same order, first start and restart (execution times aside)."""
    location = _location(tmp_path, "V1__initial_schema.sql", "V2__add_phone_column.sql")
    other = _fresh(pg_server, pg_database)
    if baseline:
        _owned_table(pg_server, pg_database)
        _owned_table(pg_server, other)
    env = {"RHDEMO_APP_VERSION": "1.1", "SPRING_FLYWAY_BASELINE_ON_MIGRATE": str(baseline).lower()}
    options = ["-baselineOnMigrate=true"] if baseline else []
    for run in ("first start", "restart"):
        stub = stubs.run_started(**env)
        stub.stop()
        cli = run_flyway(other, location, *options, "migrate")
        assert cli.returncode == 0, cli.stdout + cli.stderr
        stub_lines = _stub_flyway_lines(stub.output)
        assert len(stub_lines) >= 3, stub.output
        assert stub_lines == _cli_flyway_lines(cli.stdout), run
    # The history tables themselves are alike: columns, types, defaults, primary key and index.
    assert _history_table_shape(pg_server, pg_database) == _history_table_shape(pg_server, other)
