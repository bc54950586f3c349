"""Each startup failure of point 3 of issue 2: a non-zero exit with the root cause the real stack prints."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.integration.stub.conftest import MIGRATIONS, StubRunner
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration


def _connect(pg_server: PgServer, database: dict[str, str]) -> psycopg.Connection:
    return pg_server.admin(database["name"])


def test_wrong_password_fails_with_the_servers_own_message(stubs: StubRunner, pg_database: dict[str, str]) -> None:
    """Flyway asks first: its FlywaySqlException, under the entityManagerFactory bean that depends on it."""
    stub = stubs.run_failing(SPRING_DATASOURCE_PASSWORD="not-the-password")
    user = pg_database["user"]
    # pgjdbc's rendering of the server's message: one space after FATAL (libpq prints two).
    assert f'Caused by: org.postgresql.util.PSQLException: FATAL: password authentication failed for user "{user}"' \
        in stub.output
    assert ("Caused by: org.flywaydb.core.internal.exception.FlywaySqlException: Unable to obtain connection from "
            f'database: FATAL: password authentication failed for user "{user}"') in stub.output
    assert "SQL State  : 28P01\nError Code : 0\n" in stub.output
    assert "Failed to initialize dependency 'flywayInitializer' of LoadTimeWeaverAware bean 'entityManagerFactory'" \
        in stub.output
    assert "Exception during pool initialization" not in stub.output
    assert "Application run failed" in stub.output
    assert "not-the-password" not in stub.output


def test_wrong_password_without_flyway_is_hibernates_dialect_failure(stubs: StubRunner,
                                                                     pg_database: dict[str, str]) -> None:
    stub = stubs.run_failing(SPRING_DATASOURCE_PASSWORD="wrong", SPRING_FLYWAY_ENABLED="false")
    assert "SQL Error: 0, SQLState: 28P01" in stub.output
    assert f'FATAL: password authentication failed for user "{pg_database["user"]}"' in stub.output
    assert "Caused by: org.hibernate.HibernateException: Unable to determine Dialect without JDBC metadata" \
        in stub.output


def test_unreachable_server_is_pgjdbcs_connection_refused(stubs: StubRunner) -> None:
    stub = stubs.run_failing(SPRING_DATASOURCE_URL="jdbc:postgresql://127.0.0.1:1/rhdemo")
    assert "Connection to 127.0.0.1:1 refused. Check that the hostname and port are correct" in stub.output


def test_validate_on_an_empty_database_is_missing_table(stubs: StubRunner) -> None:
    stub = stubs.run_failing(SPRING_FLYWAY_ENABLED="false")
    assert ("Caused by: org.hibernate.tool.schema.spi.SchemaManagementException: "
            "Schema-validation: missing table [employes]") in stub.output
    assert "Error creating bean with name 'entityManagerFactory'" in stub.output


def test_release_1_1_on_a_1_0_schema_is_missing_column(stubs: StubRunner, pg_server: PgServer,
                                                       pg_database: dict[str, str]) -> None:
    stubs.run_started().stop()  # release 1.0 migrates V1
    stub = stubs.run_failing(RHDEMO_APP_VERSION="1.1", SPRING_FLYWAY_ENABLED="false")
    assert "Schema-validation: missing column [telephone] in table [employes]" in stub.output


def test_a_column_of_another_type_is_hibernates_wrong_column_type(stubs: StubRunner, pg_server: PgServer,
                                                                  pg_database: dict[str, str]) -> None:
    with _connect(pg_server, pg_database) as conn:
        conn.execute("CREATE TABLE employes (id bigserial PRIMARY KEY, prenom varchar(250) NOT NULL, "
                     "nom varchar(250) NOT NULL, mail integer NOT NULL, adresse varchar(500))")
    stub = stubs.run_failing(SPRING_FLYWAY_ENABLED="false")
    assert ("Schema-validation: wrong column type encountered in column [mail] in table [employes]; "
            "found [int4 (Types#INTEGER)], but expecting [varchar(250) (Types#VARCHAR)]") in stub.output


def test_text_instead_of_varchar_passes_like_hibernate_6(stubs: StubRunner, pg_server: PgServer,
                                                         pg_database: dict[str, str]) -> None:
    """Hibernate 6 compares JDBC type codes: text and varchar are both Types#VARCHAR, so no error."""
    with _connect(pg_server, pg_database) as conn:
        conn.execute("CREATE TABLE employes (id bigserial PRIMARY KEY, prenom varchar(250) NOT NULL, "
                     "nom varchar(250) NOT NULL, mail text NOT NULL, adresse varchar(500))")
    stubs.run_started(SPRING_FLYWAY_ENABLED="false").stop()


def test_flyway_on_a_non_empty_schema_without_history(stubs: StubRunner, pg_server: PgServer,
                                                      pg_database: dict[str, str]) -> None:
    with _connect(pg_server, pg_database) as conn:  # what initdb scripts leave behind
        conn.execute("CREATE TABLE employes (id bigserial PRIMARY KEY, prenom varchar(250) NOT NULL, "
                     "nom varchar(250) NOT NULL, mail varchar(250) NOT NULL, adresse varchar(500))")
    stub = stubs.run_failing()
    assert ('Caused by: org.flywaydb.core.api.FlywayException: Found non-empty schema(s) "public" but no schema '
            "history table. Use baseline() or set baselineOnMigrate to true to initialize the schema history "
            "table.") in stub.output
    assert "Error creating bean with name 'flywayInitializer'" in stub.output


def test_a_failing_migration_leaves_schema_and_history_as_they_were(stubs: StubRunner, pg_server: PgServer,
                                                                    pg_database: dict[str, str], tmp_path: Path) -> None:
    location = tmp_path / "migrations"
    location.mkdir()
    (location / "V1__initial_schema.sql").write_text((MIGRATIONS / "V1__initial_schema.sql").read_text())
    stubs.run_started(SPRING_FLYWAY_LOCATIONS=f"filesystem:{location}").stop()
    (location / "V2__broken.sql").write_text(
        "ALTER TABLE employes ADD COLUMN telephone VARCHAR(20);\nSELECT * FROM no_such_table;\n")
    stub = stubs.run_failing(SPRING_FLYWAY_LOCATIONS=f"filesystem:{location}")
    assert "Migration V2__broken.sql failed" in stub.output
    assert 'relation "no_such_table" does not exist' in stub.output
    with _connect(pg_server, pg_database) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM flyway_schema_history ORDER BY installed_rank")]
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'employes'")]
    assert versions == ["1"]
    assert "telephone" not in columns


def test_bad_configuration_is_a_clear_error_without_traceback(stubs: StubRunner) -> None:
    stub = stubs.run_failing(SPRING_JPA_HIBERNATE_DDL_AUTO="sometimes")
    assert "APPLICATION FAILED TO START" in stub.output
    assert "sometimes" in stub.output


def test_a_port_in_use_is_springs_failure_analysis(stubs: StubRunner) -> None:
    first = stubs.run_started()
    stub = stubs.run_failing(SERVER_PORT=str(first.port))
    assert f"Web server failed to start. Port {first.port} was already in use." in stub.output


def test_no_create_privilege_is_postgresqls_permission_error(stubs: StubRunner, pg_server: PgServer,
                                                             pg_database: dict[str, str]) -> None:
    """PostgreSQL 15+: a role that does not own the database cannot create in `public`."""
    name = f"{pg_database['name']}_noddl"
    with pg_server.admin() as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))  # owned by postgres
        conn.execute(psycopg.sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            psycopg.sql.Identifier(name), psycopg.sql.Identifier(pg_database["user"])))
    stub = stubs.run_failing(SPRING_DATASOURCE_URL=pg_server.jdbc_url(name))
    assert "Caused by: org.postgresql.util.PSQLException: ERROR: permission denied for schema public" in stub.output
    assert "Unable to migrate schema" in stub.output
