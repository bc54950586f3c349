"""Replicas starting at once, and nothing lost across restarts, upgrades and password changes."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from tests.integration.stub.conftest import StubRunner
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration


def test_four_replicas_at_once_apply_each_migration_exactly_once(stubs: StubRunner, pg_server: PgServer,
                                                                 pg_database: dict[str, str],
                                                                 http: httpx.Client) -> None:
    replicas = [stubs.start(RHDEMO_APP_VERSION="1.1") for _ in range(5)]
    for replica in replicas:
        replica.wait_started(timeout=40)
        assert http.get(f"{replica.management}/actuator/health/readiness").status_code == 200
    with pg_server.admin(pg_database["name"]) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM flyway_schema_history ORDER BY installed_rank")]
    assert versions == ["1", "2"]
    applied = sum(r.output.count("Migrating schema") for r in replicas)
    assert applied == 2
    assert sum("No migration necessary" in r.output for r in replicas) >= len(replicas) - 2


def _create(http: httpx.Client, base: str, n: int, **extra: str) -> dict:
    response = http.post(f"{base}/api/employes",
                         json={"prenom": f"Prenom{n}", "nom": f"Nom{n}", "mail": f"p{n}@rhdemo.fr", **extra})
    assert response.status_code == 201, response.text
    return response.json()


def _all(http: httpx.Client, base: str) -> list[dict]:
    response = http.get(f"{base}/api/employes", params={"size": 2000})
    assert response.status_code == 200, response.text
    return response.json()["content"]


def test_rows_survive_restart_upgrade_and_password_change(stubs: StubRunner, pg_server: PgServer,
                                                          pg_database: dict[str, str], http: httpx.Client) -> None:
    stub = stubs.run_started()
    created = [_create(http, stub.api, n) for n in range(3)]
    assert stub.stop() == 143  # the JVM after SIGTERM: 128 + 15

    stub = stubs.run_started()                                # restart, same release
    assert _all(http, stub.api) == created
    stub.stop()

    stub = stubs.run_started(RHDEMO_APP_VERSION="1.1")       # upgrade: V2 adds telephone
    assert 'now at version v2' in stub.output
    upgraded = _all(http, stub.api)
    assert [{k: v for k, v in row.items() if k != "telephone"} for row in upgraded] == created
    assert all(row["telephone"] is None for row in upgraded)
    created.append(_create(http, stub.api, 3, telephone="0102030405"))
    stub.stop()

    new_password = "rotated-Passw0rd"
    with pg_server.admin() as conn:                          # the server's password changes
        conn.execute(psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            psycopg.sql.Identifier(pg_database["user"]), psycopg.sql.Literal(new_password)))
    stale = stubs.run_failing(RHDEMO_APP_VERSION="1.1")      # old password: the seed's failure
    assert "password authentication failed" in stale.output
    stub = stubs.run_started(RHDEMO_APP_VERSION="1.1", SPRING_DATASOURCE_PASSWORD=new_password)
    rows = _all(http, stub.api)
    assert len(rows) == 4 and rows[3]["telephone"] == "0102030405"
    assert [r["mail"] for r in rows] == [c["mail"] for c in created]
    stub.stop()


def test_rollback_to_1_0_after_1_1_still_starts(stubs: StubRunner) -> None:
    """V2 applied by 1.1 is a "future" migration for 1.0: Flyway ignores it, Hibernate ignores the extra column."""
    stubs.run_started(RHDEMO_APP_VERSION="1.1").stop()
    stub = stubs.run_started(RHDEMO_APP_VERSION="1.0")
    stub.stop()
    assert 'Current version of schema "public": 2' in stub.output
