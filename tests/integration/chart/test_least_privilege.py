"""Least privilege (issue 12 item 4), the chart's scripts against a real PostgreSQL.

The database pod's first start is reproduced as the image's entrypoint does it: initdb with the rendered
POSTGRES_USER and POSTGRES_INITDB_ARGS (no --auth flag of its own: initdb's defaults) plus the line it
appends (`host all all all scram-sha-256`), POSTGRES_DB created, then the `<instance>-init` ConfigMap's
scripts in name order in ONE bash (the chart's `000-app-role.sh` is sourced, a `.sql` goes through the
entrypoint's psql command). Then the password-sync container runs against the same server.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.chart.chartlib import Helm, container, find, render, shell_script, wait_for
from tests.integration.chart.scriptrun import container_env, run_script, start_script
from tests.pgserver import PgServer, free_port, start_server

pytestmark = pytest.mark.integration

PASSWORD_A = "A: it's \"first\" $HOME ü"
PASSWORD_B = "B-rotated-password-123"
# The seed's table, created by an init script as in its first deployment (init-scripts-skipped).
INIT_SCHEMA = ("CREATE TABLE employes (id BIGSERIAL PRIMARY KEY, prenom VARCHAR(250) NOT NULL, "
               "nom VARCHAR(250) NOT NULL, mail VARCHAR(250) NOT NULL, adresse VARCHAR(500));\n")
ENTRYPOINT_SQL = 'psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc --dbname "$POSTGRES_DB"'


def _values(port: int, **more: Any) -> dict[str, Any]:
    return {"passwordSync.mode": "robust", "migrations.mode": "sql-job",
            "postgresql-rhdemo.database.host": "127.0.0.1", "postgresql-rhdemo.service.port": port,
            "postgresql-rhdemo.initScripts": {"01-employes.sql": INIT_SCHEMA},
            "migrations.files": {"V2__add_phone_column.sql": "ALTER TABLE employes ADD COLUMN telephone VARCHAR(20);\n"},
            **more}


class FirstStart:
    """A server initialised like the chart's database pod on an empty PGDATA."""

    def __init__(self, helm: Helm, tmp_path: Path, **values: Any) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()  # the render names it (the clients' PGPORT)
        self.docs = render(helm, _values(self.port, **values))
        sts = find(self.docs, "StatefulSet", "postgresql-rhdemo")
        self.postgresql = container(sts, "postgresql")
        self.env = container_env(self.postgresql, {("rhdemo-db-secret", "password"): PASSWORD_A})
        self.server = self._initdb()
        self.init_output = self._run_init_scripts()

    def _initdb(self) -> PgServer:
        server = start_server(superuser=self.env["POSTGRES_USER"],
                              initdb_args=tuple(shlex.split(self.env.get("POSTGRES_INITDB_ARGS", ""))),
                              hba_lines=("host all all all scram-sha-256",), port=self.port)
        with server.admin() as conn:  # initdb --pwfile, then the entrypoint's CREATE DATABASE
            conn.execute(psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                psycopg.sql.Identifier(server.superuser), psycopg.sql.Literal(PASSWORD_A)))
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(self.env["POSTGRES_DB"])))
        return server

    def _run_init_scripts(self) -> str:
        init_dir = self.tmp_path / "docker-entrypoint-initdb.d"
        init_dir.mkdir()
        lines = ["set -Eeo pipefail"]
        for name, content in sorted(find(self.docs, "ConfigMap", "postgresql-rhdemo-init")["data"].items()):
            (init_dir / name).write_text(content)
            lines.append(f". {init_dir / name}" if name.endswith(".sh") else f"{ENTRYPOINT_SQL} -f {init_dir / name}")
        env = {**self.env, "PGHOST": str(self.server.sockdir), "PGPORT": str(self.port)}
        result = subprocess.run(["bash", "-c", "\n".join(lines)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.server.datadir.parent, ignore_errors=True)


@pytest.fixture
def first_start(helm3: Helm, tmp_path: Path) -> Iterator[FirstStart]:
    started = FirstStart(helm3, tmp_path)
    yield started
    started.stop()


def _login(server: PgServer, user: str, password: str | None, dbname: str = "rhdemo") -> str:
    """'' when `user` logs in over TCP from 127.0.0.1 (a port-forward's view), else the server's reason."""
    try:
        with psycopg.connect(host="127.0.0.1", port=server.port, user=user, dbname=dbname, connect_timeout=5,
                             **({"password": password} if password is not None else {})):
            return ""
    except psycopg.OperationalError as exc:
        return str(exc)


def _one(server: PgServer, sql: str, *params: Any, dbname: str = "postgres") -> Any:
    with server.admin(dbname) as conn:
        row = conn.execute(sql, params or None).fetchone()
    assert row is not None, sql
    return row[0]


def test_the_app_role_is_not_a_superuser_and_owns_its_database_and_tables(first_start: FirstStart) -> None:
    server = first_start.server
    assert first_start.env["POSTGRES_USER"] == "postgres" and first_start.env["APP_ROLE"] == "rhdemo"
    assert _one(server, "SELECT rolsuper FROM pg_roles WHERE rolname = 'rhdemo'") is False
    assert _one(server, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'rhdemo'") == "rhdemo"
    # The init script ran after the chart's one, as the app role: the app owns its table and sequence.
    assert _one(server, "SELECT tableowner FROM pg_tables WHERE tablename = 'employes'", dbname="rhdemo") == "rhdemo"
    assert _one(server, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'employes_id_seq'",
                dbname="rhdemo") == "rhdemo"
    assert _one(server, "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'rhdemo'") is True
    assert _one(server, "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'postgres'") is True
    assert PASSWORD_A not in first_start.init_output + (server.datadir.parent / "server.log").read_text()
    assert "rhdemo: role rhdemo created: not a superuser, owns database rhdemo" in first_start.init_output
    assert "Enter" not in first_start.init_output  # \password's prompts are not the pod's log
    # The app's password logs in, a wrong one fails with the seed's message.
    assert _login(server, "rhdemo", PASSWORD_A) == ""
    assert 'password authentication failed for user "rhdemo"' in _login(server, "rhdemo", PASSWORD_B)


def test_tcp_from_127_0_0_1_asks_a_password_and_the_superuser_has_none(first_start: FirstStart) -> None:
    server = first_start.server
    assert first_start.env["POSTGRES_INITDB_ARGS"] == "--auth-host=scram-sha-256"
    assert "no password supplied" in _login(server, "postgres", None)
    assert "no password supplied" in _login(server, "rhdemo", None)
    # The app's password is not the superuser's: the superuser has none, so no TCP login at all.
    assert 'password authentication failed for user "postgres"' in _login(server, "postgres", PASSWORD_A)
    # The local socket, which the password-sync container uses, stays trusted.
    assert _one(server, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is True


def test_without_the_initdb_args_a_port_forward_is_superuser_without_a_password(
        helm3: Helm, tmp_path: Path) -> None:
    """Control: initdb's default (what the official image keeps) trusts 127.0.0.1."""
    started = FirstStart(helm3, tmp_path, **{"postgresql-rhdemo.initdbArgs": ""})
    try:
        assert "POSTGRES_INITDB_ARGS" not in started.env
        assert _login(started.server, "postgres", None) == ""
    finally:
        started.stop()


def test_migrations_run_as_the_app_role_on_the_tables_of_the_init_scripts(first_start: FirstStart) -> None:
    job = find(first_start.docs, "Job", "schema-migration-1")
    migrations_dir = first_start.tmp_path / "migrations"
    migrations_dir.mkdir()
    for name, content in find(first_start.docs, "ConfigMap", "schema-migrations")["data"].items():
        (migrations_dir / name).write_text(content)
    migrate = container(job, "migrate")
    env = container_env(migrate, {("rhdemo-db-secret", "password"): PASSWORD_A}, {"MIGRATIONS_DIR": str(migrations_dir)})
    assert env["PGUSER"] == "rhdemo"
    result = run_script(shell_script(migrate), env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _one(first_start.server, "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'employes' AND column_name = 'telephone'", dbname="rhdemo") == 1


def _sidecar(docs: list[dict[str, Any]], server: PgServer, tmp_path: Path, secret: str,
             **env: str) -> subprocess.Popen[str]:
    c = container(find(docs, "StatefulSet", "postgresql-rhdemo"), "password-sync")
    password_file = tmp_path / "secret" / "password"
    password_file.parent.mkdir(parents=True, exist_ok=True)
    password_file.write_bytes(secret.encode())
    sidecar_env = container_env(c, {}, {"PGHOST": str(server.sockdir), "PGPORT": str(server.port),
                                        "PASSWORD_FILE": str(password_file), "CHECK_INTERVAL_SECONDS": "1",
                                        "VERIFY_HOST": "127.0.0.1", **env})
    return start_script(shell_script(c), sidecar_env)


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    return process.communicate(timeout=10)[0]


def _sync_until_login(docs: list[dict[str, Any]], server: PgServer, tmp_path: Path, role: str = "rhdemo",
                      dbname: str = "rhdemo") -> tuple[bool, str]:
    """Runs the sidecar with the Secret at B until `role` logs in with B (20 s at most) and a check more;
    whether it did, and what the sidecar printed."""
    sidecar = _sidecar(docs, server, tmp_path, PASSWORD_B)
    try:
        synced = wait_for(lambda: _login(server, role, PASSWORD_B, dbname) == "", 20)
        time.sleep(1)
    finally:
        output = _stop(sidecar)
    return synced, output


@contextmanager
def _own_server(**settings: Any) -> Iterator[PgServer]:
    """A server of its own, for a test that initialises it unlike the session's."""
    server = start_server(**settings)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.datadir.parent, ignore_errors=True)


def test_rotation_through_the_socket_keeps_the_app_role_unprivileged(first_start: FirstStart) -> None:
    server = first_start.server
    # Problem 1 as in the seed: the Secret now says B, the role still has A.
    assert 'password authentication failed for user "rhdemo"' in _login(server, "rhdemo", PASSWORD_B)
    rotated, output = _sync_until_login(first_start.docs, server, first_start.tmp_path)
    assert rotated, output
    assert "✅ mot de passe du rôle rhdemo synchronisé avec le Secret (connexion vérifiée)" in output
    assert "SUPERUSER" not in output and "créé" not in output  # nothing to fix on a chart-made PGDATA
    assert 'password authentication failed for user "rhdemo"' in _login(server, "rhdemo", PASSWORD_A)
    assert _one(server, "SELECT rolsuper FROM pg_roles WHERE rolname = 'rhdemo'") is False
    assert "no password supplied" in _login(server, "postgres", None)


def test_the_sync_demotes_an_app_role_that_is_a_superuser_and_gives_it_its_database(
        helm3: Helm, pg_server: PgServer, tmp_path: Path) -> None:
    """Every start fixes what init scripts cannot (they run once): a superuser app role is demoted."""
    role = "rhdemo_promoted"
    with pg_server.admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {role}")
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD 'A-old'")
        conn.execute(f"CREATE DATABASE {role}")  # owned by postgres
    docs = render(helm3, {"passwordSync.mode": "robust", "postgresql-rhdemo.database.user": role,
                          "postgresql-rhdemo.database.name": role})
    synced, output = _sync_until_login(docs, pg_server, tmp_path, role, role)
    assert synced, output
    assert f"rôle {role} : SUPERUSER retiré" in output
    assert f"base {role} : propriétaire {role}" in output
    assert _one(pg_server, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", role) is False
    assert _one(pg_server, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", role) == role


def test_a_pgdata_of_the_old_chart_keeps_its_superuser_app_role_and_says_so(helm3: Helm, tmp_path: Path) -> None:
    """Initialised by the chart before this change: POSTGRES_USER was the app role, so `rhdemo` is initdb's
    bootstrap superuser, which PostgreSQL refuses to demote, and there is no `postgres` role. The sync
    creates `postgres` (so the pod's socket tools work), says `rhdemo` stays a superuser, and rotates."""
    with _own_server(superuser="rhdemo") as server:
        with server.admin() as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute("ALTER ROLE rhdemo PASSWORD 'A-old'")
            conn.execute("CREATE DATABASE rhdemo")
        synced, output = _sync_until_login(render(helm3, {"passwordSync.mode": "robust"}), server, tmp_path)
        assert synced, output
        assert "superutilisateur postgres créé" in output
        assert "le rôle rhdemo est le superutilisateur d'initdb de ce PGDATA" in output
        assert _one(server, "SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'") is True
        assert _one(server, "SELECT rolsuper FROM pg_roles WHERE rolname = 'rhdemo'") is True


def test_the_sync_waits_while_the_init_scripts_run(helm3: Helm, tmp_path: Path) -> None:
    """The database pod's first start: the entrypoint's temporary server listens on the shared socket only
    while the init scripts run. Creating the app role then would make the chart's init script fail
    (CREATE ROLE of an existing role) and abort the first start: the sync waits for the real server."""
    with _own_server(listen_addresses="") as server:
        with server.admin() as conn:
            conn.execute("CREATE DATABASE rhdemo")
        docs = render(helm3, {"passwordSync.mode": "robust"})
        sidecar = _sidecar(docs, server, tmp_path, PASSWORD_B)
        try:
            time.sleep(4)  # several checks
        finally:
            output = _stop(sidecar)
        assert output.count("initialisation de PGDATA en cours") == 1, output
        assert _one(server, "SELECT count(*) FROM pg_roles WHERE rolname = 'rhdemo'") == 0
        assert "synchronisé" not in output
