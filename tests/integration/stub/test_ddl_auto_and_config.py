"""Each spring.jpa.hibernate.ddl-auto mode, and Spring's configuration precedence from real files."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest

from tests.integration.stub.conftest import StubRunner
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration

_1_0_TABLE = ("CREATE TABLE employes (id bigserial PRIMARY KEY, prenom varchar(250) NOT NULL, "
              "nom varchar(250) NOT NULL, mail varchar(250) NOT NULL, adresse varchar(500))")


def _columns(pg_server: PgServer, database: dict[str, str]) -> dict[str, str]:
    with pg_server.admin(database["name"]) as conn:
        return dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'employes'").fetchall())


def _count(pg_server: PgServer, database: dict[str, str]) -> int:
    with pg_server.admin(database["name"]) as conn:
        return conn.execute("SELECT count(*) FROM employes").fetchone()[0]  # type: ignore[index]


def _seed_row(pg_server: PgServer, database: dict[str, str]) -> None:
    """A 1.0 table with one row, owned by the app's role (as when the app or its migrations created it)."""
    with pg_server.admin(database["name"]) as conn:
        conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(database["user"])))
        conn.execute(_1_0_TABLE)
        conn.execute("INSERT INTO employes (prenom, nom, mail) VALUES ('Ada', 'Lovelace', 'ada@rhdemo.fr')")


def test_none_touches_nothing(stubs: StubRunner, pg_server: PgServer, pg_database: dict[str, str]) -> None:
    stubs.run_started(SPRING_JPA_HIBERNATE_DDL_AUTO="none", SPRING_FLYWAY_ENABLED="false").stop()
    assert _columns(pg_server, pg_database) == {}


def test_update_adds_the_missing_column_and_keeps_rows(stubs: StubRunner, pg_server: PgServer,
                                                       pg_database: dict[str, str]) -> None:
    _seed_row(pg_server, pg_database)
    with pg_server.admin(pg_database["name"]) as conn:
        conn.execute("ALTER TABLE employes ADD COLUMN legacy_code text")  # never dropped by update
        conn.execute(psycopg.sql.SQL("ALTER TABLE employes OWNER TO {}").format(
            psycopg.sql.Identifier(pg_database["user"])))
    stubs.run_started(SPRING_JPA_HIBERNATE_DDL_AUTO="update", SPRING_FLYWAY_ENABLED="false",
                      RHDEMO_APP_VERSION="1.1").stop()
    columns = _columns(pg_server, pg_database)
    assert columns["telephone"] == "character varying" and "legacy_code" in columns
    assert _count(pg_server, pg_database) == 1
    # and validate is now satisfied
    stubs.run_started(SPRING_FLYWAY_ENABLED="false", RHDEMO_APP_VERSION="1.1").stop()


def test_update_ddl_failure_is_a_warning_not_a_startup_failure(stubs: StubRunner, pg_server: PgServer,
                                                              pg_database: dict[str, str]) -> None:
    """Hibernate's halt_on_error=false: a table the app's role does not own cannot be altered; update
    logs a WARN and the app starts anyway (then fails later on the missing column)."""
    with pg_server.admin(pg_database["name"]) as conn:
        conn.execute(_1_0_TABLE)  # owned by postgres
    stub = stubs.run_started(SPRING_JPA_HIBERNATE_DDL_AUTO="update", SPRING_FLYWAY_ENABLED="false",
                             RHDEMO_APP_VERSION="1.1")
    stub.stop()
    assert ('GenerationTarget encountered exception accepting command : Error executing DDL '
            '"alter table if exists employes add column telephone varchar(20)"') in stub.output
    assert "must be owner of table employes" in stub.output
    assert "telephone" not in _columns(pg_server, pg_database)


def test_update_creates_a_missing_table(stubs: StubRunner, pg_server: PgServer, pg_database: dict[str, str]) -> None:
    stubs.run_started(SPRING_JPA_HIBERNATE_DDL_AUTO="update", SPRING_FLYWAY_ENABLED="false").stop()
    assert set(_columns(pg_server, pg_database)) == {"id", "prenom", "nom", "mail", "adresse"}


def test_create_drops_and_recreates(stubs: StubRunner, pg_server: PgServer, pg_database: dict[str, str]) -> None:
    _seed_row(pg_server, pg_database)
    stub = stubs.run_started(SPRING_JPA_HIBERNATE_DDL_AUTO="create", SPRING_FLYWAY_ENABLED="false")
    stub.stop()
    assert _count(pg_server, pg_database) == 0
    assert "telephone" not in _columns(pg_server, pg_database)


def test_create_drop_drops_the_table_at_shutdown(stubs: StubRunner, pg_server: PgServer,
                                                 pg_database: dict[str, str]) -> None:
    stub = stubs.run_started(SPRING_JPA_HIBERNATE_DDL_AUTO="create-drop", SPRING_FLYWAY_ENABLED="false")
    assert set(_columns(pg_server, pg_database)) == {"id", "prenom", "nom", "mail", "adresse"}
    assert stub.stop() == 143
    assert _columns(pg_server, pg_database) == {}


def test_profile_file_over_base_file_and_environment_over_both(stubs: StubRunner, pg_server: PgServer,
                                                               pg_database: dict[str, str], tmp_path: Path,
                                                               http: httpx.Client) -> None:
    (tmp_path / "application.yml").write_text(
        "spring:\n  jpa:\n    hibernate:\n      ddl-auto: validate\n  flyway:\n    enabled: true\n")
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    # Like application-stagingkub.yml mounted from a ConfigMap, in relaxed (camelCase) form.
    (config_dir / "application-stagingkub.yml").write_text(
        "spring:\n  jpa:\n    hibernate:\n      ddlAuto: update\n  flyway:\n    enabled: false\n")
    stub = stubs.run_started(SPRING_JPA_HIBERNATE_DDL_AUTO=None, SPRING_FLYWAY_ENABLED=None)
    assert 'The following 1 profile is active: "stagingkub"' in stub.output
    assert "by Redgate" not in stub.output      # profile file disabled Flyway
    assert set(_columns(pg_server, pg_database)) == {"id", "prenom", "nom", "mail", "adresse"}  # update created it
    stub.stop()

    other = stubs.run_failing(SPRING_JPA_HIBERNATE_DDL_AUTO=None, SPRING_FLYWAY_ENABLED="true")
    # environment wins over the profile file: Flyway runs and meets a schema without history
    assert "Found non-empty schema(s) \"public\" but no schema history table" in other.output


def test_no_profile_is_springs_default_line(stubs: StubRunner) -> None:
    stub = stubs.run_started(SPRING_PROFILES_ACTIVE=None)
    stub.stop()
    assert 'No active profile set, falling back to 1 default profile: "default"' in stub.output
