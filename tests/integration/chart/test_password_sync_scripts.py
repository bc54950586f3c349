"""Solution 1's scripts, taken from the rendered chart and run against a real PostgreSQL server.

The fixture server trusts its Unix socket and asks scram-sha-256 over TCP, like the official image.
The password-sync container reaches it through the socket dir (the pod's /var/run/postgresql);
the Jobs and initContainers over TCP 127.0.0.1:<port> (the pod's Service)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.chart.chartlib import Helm, container, find, render, shell_script, wait_for
from tests.integration.chart.scriptrun import (
    ProcessListSampler, container_env, run_script, start_script,
)
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration

NAMESPACE = "rhdemo-stagingkub"
SECRET_OF = {"postgresql-rhdemo": "rhdemo-db-secret", "postgresql-keycloak": "keycloak-db-secret"}
SPECIAL_PASSWORDS = [
    "it's-a-quote",
    "back\\slash\\\\two",
    "dollar $HOME ${PGUSER} $(id) `id`",
    'double"quote"',
    "with spaces  inside and after  ",
    "ünïcødé-€-密码",
    "all: ' \\ $ \" `x` é :pw :'pw' ;--",
]


def _can_login(server: PgServer, user: str, password: str, dbname: str) -> bool:
    try:
        with psycopg.connect(server.tcp_dsn(user, password, dbname), connect_timeout=5):
            return True
    except psycopg.OperationalError:
        return False


def _set_password(server: PgServer, user: str, password: str) -> None:
    with server.admin() as conn:
        conn.execute(psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            psycopg.sql.Identifier(user), psycopg.sql.Literal(password)))


def _server_log(server: PgServer) -> str:
    return (server.datadir.parent / "server.log").read_text(errors="replace")


def _render_for(helm: Helm, instance: str, db: dict[str, str], mode: str) -> list[dict[str, Any]]:
    """The chart rendered so that `instance` points at the fixture's database over TCP."""
    values: dict[str, Any] = {
        "passwordSync.mode": mode,
        f"{instance}.database.host": db["host"],
        f"{instance}.service.port": int(db["port"]),
        f"{instance}.database.name": db["name"],
        f"{instance}.database.user": db["user"],
    }
    if "superuser" in db:
        values[f"{instance}.superuser"] = db["superuser"]
    return render(helm, values)


@pytest.fixture
def chart_roles(pg_server: PgServer, pg_database: dict[str, str]) -> dict[str, str]:
    """The roles the chart makes: the fixture's role (not a superuser, owner of its database) for the
    clients, and a superuser standing for POSTGRES_USER, whose sessions (the password-sync
    container's) log every statement, so a password leaking into the server log would show."""
    superuser = f"admin_{pg_database['user'][len('rhdemo_'):]}"
    with pg_server.admin() as conn:
        conn.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN SUPERUSER").format(psycopg.sql.Identifier(superuser)))
        conn.execute(psycopg.sql.SQL("ALTER ROLE {} SET log_statement = 'all'").format(psycopg.sql.Identifier(superuser)))
    return {**pg_database, "superuser": superuser}


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    """Stands for the Secret volume the kubelet mounts in the database pod."""
    return tmp_path / "secret" / "password"


def _sidecar(docs: list[dict[str, Any]], instance: str, server: PgServer, password_file: Path,
             secret: str) -> tuple[str, dict[str, str]]:
    sts = find(docs, "StatefulSet", instance)
    c = container(sts, "password-sync")
    # Pod → host: the socket dir and port of the fixture, the Secret volume's file.
    env = container_env(c, {}, {"PGHOST": str(server.sockdir), "PGPORT": str(server.port),
                                "PASSWORD_FILE": str(password_file), "CHECK_INTERVAL_SECONDS": "1",
                                "VERIFY_HOST": server.host})
    _write_secret_file(password_file, secret)
    return shell_script(c), env


def _write_secret_file(path: Path, secret: str) -> None:
    """Like the kubelet's Secret volume: exact bytes (no newline), replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(".staging")
    staging.write_bytes(secret.encode())
    staging.replace(path)


def test_the_process_list_sampler_sees_short_lived_command_lines() -> None:
    """Control for the 'absent from the process list' checks below: the sampler does see argv."""
    with ProcessListSampler() as sampler:
        run_script("sleep 0.3 && true marker-7f3a", dict(PATH="/usr/bin:/bin"))
        time.sleep(0.05)
    assert sampler.contains("sleep 0.3")
    assert sampler.samples >= 3


ROTATION_CASES = (
    [("postgresql-rhdemo", "B-plain-new-password-123")]
    + [("postgresql-rhdemo", p) for p in SPECIAL_PASSWORDS]
    + [("postgresql-keycloak", "B-plain-new-password-123"), ("postgresql-keycloak", SPECIAL_PASSWORDS[-1])]
)
ROTATION_IDS = (["rhdemo-plain", "rhdemo-quote", "rhdemo-backslash", "rhdemo-dollar", "rhdemo-double-quote",
                 "rhdemo-spaces", "rhdemo-non-ascii", "rhdemo-all"] + ["keycloak-plain", "keycloak-all"])


@pytest.mark.parametrize(("instance", "new_password"), ROTATION_CASES, ids=ROTATION_IDS)
def test_robust_sync_applies_the_rotated_secret_without_the_old_password(
        helm3: Helm, pg_server: PgServer, chart_roles: dict[str, str], password_file: Path,
        instance: str, new_password: str) -> None:
    db = chart_roles
    old_password = db["password"]  # the server's password (A); the Secret now says B
    docs = _render_for(helm3, instance, db, "robust")
    secret_name = SECRET_OF[instance]
    sidecar_script, sidecar_env = _sidecar(docs, instance, pg_server, password_file, new_password)
    verify = container(find(docs, "Job", f"{instance}-password-sync-1"), "sync-password")
    verify_env = container_env(verify, {(secret_name, "password"): new_password}, {"VERIFY_TIMEOUT_SECONDS": "30", "VERIFY_INTERVAL_SECONDS": "1"})
    assert verify_env["PGHOST"] == db["host"] and verify_env["PGPORT"] == db["port"]

    log_before = len(_server_log(pg_server))
    with ProcessListSampler() as sampler:
        sidecar = start_script(sidecar_script, sidecar_env)
        try:
            verified = run_script(shell_script(verify), verify_env, timeout=60)
            # A second rotation while it runs: the kubelet rewrites the mounted file in place.
            third_password = new_password + "-C"
            _write_secret_file(password_file, third_password)
            rotated_again = wait_for(lambda: _can_login(pg_server, db["user"], third_password, db["name"]), 15)
            time.sleep(2)  # the sidecar logs its success after its own login check
        finally:
            sidecar.terminate()
            sidecar_output = sidecar.communicate(timeout=10)[0]

    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"✅ Connexion réussie avec le mot de passe du Secret {secret_name}" in verified.stdout
    assert rotated_again, sidecar_output
    assert not _can_login(pg_server, db["user"], old_password, db["name"])
    assert sidecar_output.count(f"✅ mot de passe du rôle {db['user']} synchronisé avec le Secret") == 2, sidecar_output
    # The password never shows: not in the output, not in argv, not in the server's log
    # (the superuser's sessions log every statement; the sync turns that off for its own session).
    server_log = _server_log(pg_server)[log_before:]
    assert "SET log_statement = 'none'" in server_log  # proof the role's statements are logged
    for secret in (new_password, third_password):
        assert secret not in sidecar_output + verified.stdout + verified.stderr
        assert not sampler.contains(secret)
        assert secret not in server_log
    assert sampler.samples >= 10


def test_robust_app_role_logs_in_with_the_new_password_after_rotation(
        helm3: Helm, pg_server: PgServer, chart_roles: dict[str, str], password_file: Path) -> None:
    """The seed's Test 3 end to end on the scripts: server=A, Secret=B, then the app's wait-for-db
    initContainer (robust: waits for a login with the Secret's password) lets the app start with B."""
    db = chart_roles
    docs = docs_app = _render_for(helm3, "postgresql-rhdemo", db, "robust")
    wait_for_db = container(find(docs_app, "Deployment", "rhdemo-app"), "wait-for-db")
    new_password = "new-password-123"  # the seed's Test 3 value
    env = container_env(wait_for_db, {("rhdemo-db-secret", "password"): new_password}, {"VERIFY_TIMEOUT_SECONDS": "3", "VERIFY_INTERVAL_SECONDS": "1"})

    before = run_script(shell_script(wait_for_db), env)
    assert before.returncode == 1  # server still has A: the app would not start, and says why
    assert "password authentication failed" in before.stdout
    assert "kubectl logs statefulset/postgresql-rhdemo -c password-sync -n rhdemo-stagingkub" in before.stdout

    sidecar_script, sidecar_env = _sidecar(docs, "postgresql-rhdemo", pg_server, password_file, new_password)
    sidecar = start_script(sidecar_script, sidecar_env)
    try:
        env.update(VERIFY_TIMEOUT_SECONDS="30", VERIFY_INTERVAL_SECONDS="1")
        after = run_script(shell_script(wait_for_db), env)
    finally:
        sidecar.terminate()
        sidecar.communicate(timeout=10)
    assert after.returncode == 0, after.stdout
    assert _can_login(pg_server, db["user"], new_password, db["name"])  # what the app does next


def test_robust_sync_never_sends_the_password_when_it_cannot_silence_the_server_log(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], password_file: Path) -> None:
    """A role that may not change the logging settings gets no ALTER with the password at all."""
    db = pg_database
    docs = _render_for(helm3, "postgresql-rhdemo", db, "robust")
    script, env = _sidecar(docs, "postgresql-rhdemo", pg_server, password_file, "never-sent-pw")
    env["POSTGRES_USER"] = db["user"]  # connects as a role that is not a superuser: SET log_statement is refused
    sidecar = start_script(script, env)
    time.sleep(3)
    sidecar.terminate()
    output = sidecar.communicate(timeout=10)[0]
    assert "échec de la synchronisation" in output
    assert _can_login(pg_server, db["user"], db["password"], db["name"])
    assert "never-sent-pw" not in _server_log(pg_server) + output


def test_robust_sync_failure_does_not_log_the_statement(
        helm3: Helm, pg_server: PgServer, chart_roles: dict[str, str], password_file: Path) -> None:
    """A failing ALTER ROLE is logged by the server with its statement by default
    (log_min_error_statement=error); the sync turns that off for its session. The ALTER fails on
    its lock_timeout: a transaction holds the role's row."""
    db = chart_roles
    docs = _render_for(helm3, "postgresql-rhdemo", db, "robust")
    script, env = _sidecar(docs, "postgresql-rhdemo", pg_server, password_file, "failing-alter-pw")
    log_before = len(_server_log(pg_server))
    blocker = psycopg.connect(pg_server.admin_dsn())
    blocker.execute(psycopg.sql.SQL("ALTER ROLE {} CONNECTION LIMIT 50").format(psycopg.sql.Identifier(db["user"])))
    try:
        sidecar = start_script(script, env)
        failed = wait_for(lambda: "canceling statement due to lock timeout" in _server_log(pg_server)[log_before:], 30)
        sidecar.terminate()
        output = sidecar.communicate(timeout=10)[0]
    finally:
        blocker.close()
    assert failed, output
    assert "failing-alter-pw" not in _server_log(pg_server)[log_before:] + output


def test_robust_verification_fails_clearly_when_the_password_is_never_applied(
        helm3: Helm, chart_roles: dict[str, str]) -> None:
    db = chart_roles
    docs = _render_for(helm3, "postgresql-rhdemo", db, "robust")
    verify = container(find(docs, "Job", "postgresql-rhdemo-password-sync-1"), "sync-password")
    env = container_env(verify, {("rhdemo-db-secret", "password"): "B-never-applied"}, {"VERIFY_TIMEOUT_SECONDS": "2", "VERIFY_INTERVAL_SECONDS": "1"})
    result = run_script(shell_script(verify), env)
    assert result.returncode == 1
    assert "❌ Le mot de passe du Secret rhdemo-db-secret ne permet pas de se connecter après 2 s" in result.stdout
    assert "password authentication failed" in result.stdout
    assert "B-never-applied" not in result.stdout + result.stderr


def _seed_job(helm: Helm, db: dict[str, str]) -> dict[str, Any]:
    return find(_render_for(helm, "postgresql-rhdemo", db, "seed"), "Job", "postgresql-rhdemo-password-sync-1")


def test_seed_job_fails_after_a_real_rotation_exactly_as_the_analysis_predicts(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str]) -> None:
    db = pg_database  # server password A
    job = _seed_job(helm3, db)
    secrets = {("rhdemo-db-secret", "password"): "new-password-123"}  # Secret rotated to B
    wait = container(job, "wait-for-db")
    waited = run_script(shell_script(wait), container_env(wait, secrets), timeout=30)
    assert waited.returncode == 0 and "PostgreSQL is ready" in waited.stdout

    sync = container(job, "sync-password")
    result = run_script(shell_script(sync), container_env(sync, secrets))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "🔑 Synchronisation du mot de passe PostgreSQL...",
        "⚠️  Impossible de se connecter - Le mot de passe nécessite une réinitialisation manuelle",
        f"   Exécutez: kubectl delete statefulset postgresql-rhdemo -n {NAMESPACE}",
        f"   Puis: kubectl delete pvc postgresql-data-postgresql-rhdemo-0 -n {NAMESPACE}",
    ]
    assert _can_login(pg_server, db["user"], db["password"], db["name"])  # nothing changed


def test_seed_job_only_succeeds_when_nothing_was_rotated(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str]) -> None:
    db = pg_database
    sync = container(_seed_job(helm3, db), "sync-password")
    result = run_script(shell_script(sync), container_env(sync, {("rhdemo-db-secret", "password"): db["password"]}))
    assert result.returncode == 0, result.stderr
    assert "✅ Connexion réussie avec le mot de passe actuel" in result.stdout
    assert "✅ Mot de passe synchronisé" in result.stdout


def test_seed_job_breaks_on_a_quote_in_the_password(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str]) -> None:
    """The seed interpolates the password into SQL: a quote ends the literal."""
    db = pg_database
    quoted = "it's-the-current-one"
    _set_password(pg_server, db["user"], quoted)
    sync = container(_seed_job(helm3, db), "sync-password")
    result = run_script(shell_script(sync), container_env(sync, {("rhdemo-db-secret", "password"): quoted}))
    assert result.returncode != 0
    assert "✅ Connexion réussie avec le mot de passe actuel" in result.stdout
    # ...and psql's error then echoes the statement, password included, into the Job's log.
    assert "ERROR:" in result.stderr and "PASSWORD 'it's-the-current" in result.stderr
    assert "✅ Mot de passe synchronisé" not in result.stdout
