"""database.py against a real PostgreSQL: stats, roles, password logins, and the `kubectl exec` psql path
(the exec is replaced at the process boundary by a `kubectl` that runs the same command locally)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from lab.database import DatabasePod, can_login, employes_stats, roles
from lab.runner import Runner
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration

SCHEMA = """CREATE TABLE employes (id BIGSERIAL PRIMARY KEY, prenom VARCHAR(250) NOT NULL,
  nom VARCHAR(250) NOT NULL, mail VARCHAR(250) NOT NULL, adresse VARCHAR(500))"""


def connect(pg_server: PgServer, db: dict[str, str]) -> psycopg.Connection:
    return psycopg.connect(pg_server.tcp_dsn(db["user"], db["password"], db["name"]), autocommit=True)


def test_stats_are_none_without_table_then_follow_the_rows(pg_server: PgServer, pg_database: dict[str, str]) -> None:
    with connect(pg_server, pg_database) as conn:
        assert employes_stats(conn) is None
        conn.execute(SCHEMA)
        empty = employes_stats(conn)
        assert empty is not None and empty.rows == 0
        conn.execute("INSERT INTO employes (prenom, nom, mail) VALUES ('Ada', 'Lovelace', 'ada@example.com')")
        one = employes_stats(conn)
        assert one is not None and one.rows == 1 and one.checksum != empty.checksum
        conn.execute("UPDATE employes SET adresse = 'Londres'")
        changed = employes_stats(conn)
        assert changed is not None and changed.rows == 1 and changed.checksum != one.checksum
        assert pg_database["user"] in roles(conn)


def test_can_login_tells_the_server_reason(pg_server: PgServer, pg_database: dict[str, str]) -> None:
    ok, reason = can_login(pg_server.host, pg_server.port, pg_database["user"], pg_database["password"],
                           pg_database["name"])
    assert (ok, reason) == (True, "")
    ok, reason = can_login(pg_server.host, pg_server.port, pg_database["user"], "wrong-Passw0rd", pg_database["name"])
    assert not ok
    assert f'password authentication failed for user "{pg_database["user"]}"' in reason
    assert "wrong-Passw0rd" not in reason


@pytest.fixture
def fake_kubectl(tmp_path: Path, pg_server: PgServer, pg_database: dict[str, str],
                 monkeypatch: pytest.MonkeyPatch) -> Path:
    """`kubectl ... exec -i POD -- CMD...` -> runs CMD here, with the env the postgres image gives its container."""
    script = tmp_path / "kubectl"
    script.write_text(f"""#!/bin/sh
while [ "$1" != "--" ]; do shift; done; shift
export PGHOST={pg_server.sockdir} PGPORT={pg_server.port} POSTGRES_USER=postgres POSTGRES_DB={pg_database['name']}
exec "$@"
""")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{pg_server.bindir}:/usr/bin:/bin")
    return script


def test_exec_path_uses_the_socket_without_password(fake_kubectl: Path, pg_server: PgServer,
                                                     pg_database: dict[str, str]) -> None:
    pod = DatabasePod(Runner(), "kind-x", "ns", "postgresql-rhdemo-0")
    assert pod.employes_stats() is None
    with connect(pg_server, pg_database) as conn:
        conn.execute(SCHEMA)
        conn.execute("INSERT INTO employes (prenom, nom, mail) VALUES ('Ada', 'L', 'a@x'), ('Alan', 'T', 't@x')")
        expected = employes_stats(conn)
    assert pod.employes_stats() == expected
    assert {"postgres", pg_database["user"]} <= set(pod.roles())
    argv = pod.psql_argv(interactive=True)
    assert argv[:7] == ["kubectl", "--context", "kind-x", "-n", "ns", "exec", "-it"]
    assert not any("PASSWORD" in arg.upper() for arg in argv)


def test_login_check_in_the_pod_asks_the_real_server_over_tcp(fake_kubectl: Path, pg_server: PgServer,
                                                              pg_database: dict[str, str]) -> None:
    """`DatabasePod.can_login`: psql in the pod, over TCP to the Service (here the test server's host),
    the password on stdin; the server's own reason when it refuses, the password masked."""
    runner = Runner()
    pod = DatabasePod(runner, "kind-x", "ns", "postgresql-rhdemo-0")
    user, name = pg_database["user"], pg_database["name"]
    assert pod.can_login(pg_server.host, user, name, pg_database["password"]) == (True, "")
    ok, reason = pod.can_login(pg_server.host, user, name, "wrong-Passw0rd")
    assert not ok and f'password authentication failed for user "{user}"' in reason
    assert all("wrong-Passw0rd" not in result.command for result in runner.history)
    assert "wrong-Passw0rd" in runner.secrets, "registered: masked in every later output"
