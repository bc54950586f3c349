"""The password-sync container against hostile conditions (issue 12, items 1, 2 and 8): a server that
logs everything it can and defaults to md5, a blocked ALTER, values the role cannot get exactly, a
password changed behind its back, a server that does not answer. Real PostgreSQL, real scripts taken
from the rendered chart."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.integration.chart.chartlib import Helm, wait_for
from tests.integration.chart.scriptrun import SHELL, ProcessListSampler, start_script
from tests.integration.chart.test_password_sync_scripts import (
    _can_login, _render_for, _sidecar,
)
from tests.pgserver import PgServer, start_server

pytestmark = pytest.mark.integration

SPECIAL = "rotated ' \" \\ $HOME `id` é-€-密码 :'pw' ;--"

# Every setting that can put a statement (or its text) in the server log or a statistics view.
LOG_EVERYTHING = {
    "log_statement": "all",
    "log_min_duration_statement": "0",
    "log_min_duration_sample": "0",
    "log_statement_sample_rate": "1",
    "log_transaction_sample_rate": "1",
    "log_min_error_statement": "debug5",
    "log_min_messages": "debug1",
    "log_error_verbosity": "verbose",
    "log_duration": "on",
    "log_lock_waits": "on",
    "deadlock_timeout": "100ms",
    "log_connections": "on",
    "log_parameter_max_length": "-1",
    "log_parameter_max_length_on_error": "-1",
    "debug_print_parse": "on",
    "debug_print_rewritten": "on",
    "debug_print_plan": "on",
    "shared_preload_libraries": "auto_explain,pg_stat_statements",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_nested_statements": "on",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.track_utility": "on",
    # The role would get an md5 hash, which pg_hba's scram-sha-256 rejects.
    "password_encryption": "md5",
}


@pytest.fixture(scope="module")
def loud_server() -> Iterator[PgServer]:
    server = start_server(settings=LOG_EVERYTHING)
    with server.admin() as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
    yield server
    server.stop()
    shutil.rmtree(server.datadir.parent, ignore_errors=True)


def _app_role(server: PgServer, password: str) -> dict[str, str]:
    """Like the chart's app role: not a superuser, a SCRAM password, owner of its database (the
    password-sync container connects as the server's superuser, `postgres`)."""
    user = f"rhdemo_{uuid.uuid4().hex[:8]}"
    with server.admin() as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            psycopg.sql.Identifier(user), psycopg.sql.Literal(password)))
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {} OWNER {}").format(
            psycopg.sql.Identifier(user), psycopg.sql.Identifier(user)))
    return {"user": user, "password": password, "name": user, "host": server.host, "port": str(server.port)}


def _leaks(secret: str, text: str) -> bool:
    """`secret` or, since SQL doubles quotes in a literal, any quote-free piece of it is in `text`."""
    return secret in text or any(piece in text for piece in secret.split("'") if len(piece) >= 4)


def _log(server: PgServer) -> str:
    return (server.datadir.parent / "server.log").read_text(errors="replace")


def _stored_password(server: PgServer, user: str) -> str:
    with server.admin() as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (user,)).fetchone()
    assert row is not None
    return str(row[0])


class ActivitySampler:
    """Samples pg_stat_activity.query of every session (what `view`-like monitoring sees) in a thread."""

    def __init__(self, server: PgServer) -> None:
        self.server = server
        self.queries: set[str] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.server.admin() as conn:
            while not self._stop.is_set():
                self.queries.update(r[0] for r in conn.execute("SELECT query FROM pg_stat_activity"))
                self.samples += 1
                time.sleep(0.005)

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def contains(self, text: str) -> bool:
        return any(text in q for q in self.queries)


class Sidecar:
    """The password-sync script running, its output collected line by line."""

    def __init__(self, script: str, env: dict[str, str], process: subprocess.Popen[str] | None = None) -> None:
        self.process: subprocess.Popen[str] = process or start_script(script, env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 20) -> bool:
        return wait_for(lambda: text in self.output, timeout)

    def stop(self) -> str:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # blocked in a child (psql): end its whole process group
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        return self.output


def _start(helm: Helm, server: PgServer, db: dict[str, str], password_file: Path, secret: str,
           **env: str) -> Sidecar:
    docs = _render_for(helm, "postgresql-rhdemo", db, "robust")
    script, sidecar_env = _sidecar(docs, "postgresql-rhdemo", server, password_file, secret)
    sidecar_env.update(env)
    return Sidecar(script, sidecar_env)


def _synced(db: dict[str, str]) -> str:
    return f"✅ mot de passe du rôle {db['user']} synchronisé avec le Secret"


# --- item 1: no password in the server log, whatever its settings ------------------------------


def test_a_server_logging_everything_never_sees_the_password_and_the_role_gets_scram(
        helm3: Helm, loud_server: PgServer, tmp_path: Path) -> None:
    db = _app_role(loud_server, "initial-A")
    log_before = len(_log(loud_server))
    with ProcessListSampler() as processes, ActivitySampler(loud_server) as activity:
        sidecar = _start(helm3, loud_server, db, tmp_path / "secret" / "password", SPECIAL)
        try:
            assert sidecar.wait_for(_synced(db)), sidecar.output
        finally:
            output = sidecar.stop()
    log = _log(loud_server)[log_before:]
    verifier = _stored_password(loud_server, db["user"])
    # Proof the server logs the sidecar's statements (its first SET is logged before it applies).
    assert "SET log_statement = 'none'" in log
    with loud_server.admin() as conn:
        statements = "\n".join(r[0] for r in conn.execute("SELECT query FROM pg_stat_statements"))
    for leak in (SPECIAL, verifier):
        assert not _leaks(leak, log)
        assert not _leaks(leak, statements)
        assert not any(_leaks(leak, q) for q in activity.queries)
        assert not any(_leaks(leak, line) for line in processes.seen)
        assert not _leaks(leak, output)
    assert activity.samples >= 10
    # password_encryption=md5 on the server, yet the role got a SCRAM verifier: the app logs in.
    assert verifier.startswith("SCRAM-SHA-256$"), verifier[:10]
    assert _can_login(loud_server, db["user"], SPECIAL, "postgres")


def test_a_blocked_alter_gives_up_without_showing_the_password_then_applies_it(
        helm3: Helm, loud_server: PgServer, tmp_path: Path) -> None:
    """A transaction holding the role's row blocks ALTER ROLE: the sync gives up after its lock_timeout
    (nothing sits in pg_stat_activity meanwhile) and applies the password once the lock is gone."""
    db = _app_role(loud_server, "initial-A")
    log_before = len(_log(loud_server))
    blocker = psycopg.connect(loud_server.admin_dsn())
    blocker.execute(psycopg.sql.SQL("ALTER ROLE {} CONNECTION LIMIT 50").format(psycopg.sql.Identifier(db["user"])))
    try:
        with ActivitySampler(loud_server) as activity:
            sidecar = _start(helm3, loud_server, db, tmp_path / "secret" / "password", SPECIAL)
            try:
                gave_up = sidecar.wait_for("lock timeout", timeout=30)
                blocker.rollback()
                applied = sidecar.wait_for(_synced(db), timeout=30)
            finally:
                output = sidecar.stop()
    finally:
        blocker.close()
    assert gave_up, output
    assert applied, output
    assert _can_login(loud_server, db["user"], SPECIAL, "postgres")
    assert "still waiting for" in _log(loud_server)[log_before:]  # the wait was real and logged...
    assert not _leaks(SPECIAL, _log(loud_server)[log_before:])  # ...without the statement
    assert not any(_leaks(SPECIAL, q) for q in activity.queries)
    assert not activity.contains(_stored_password(loud_server, db["user"]))


# --- item 2: exactly the Secret's bytes, or a clear refusal -------------------------------------


@pytest.mark.parametrize(("content", "reason"), [
    ("pw-from-file\n", "retour à la ligne"),   # kubectl create secret --from-file of an editor's file
    ("\n", "retour à la ligne"),               # would have cleared the role's password
    ("with\r\ncrlf", "retour à la ligne"),
    ("", "est vide"),
], ids=["trailing-newline", "only-newline", "crlf", "empty"])
def test_a_value_the_role_cannot_get_exactly_is_refused_and_changes_nothing(
        helm3: Helm, pg_server: PgServer, tmp_path: Path, content: str, reason: str) -> None:
    db = _app_role(pg_server, "initial-A")
    sidecar = _start(helm3, pg_server, db, tmp_path / "secret" / "password", content)
    try:
        refused = sidecar.wait_for(reason)
        time.sleep(2)  # two more checks: the refusal is logged once, nothing is applied
    finally:
        output = sidecar.stop()
    assert refused, output
    assert output.count(reason) == 1, output
    assert f"mot de passe du rôle {db['user']} non modifié" in output
    assert "✅" not in output
    assert _can_login(pg_server, db["user"], "initial-A", "postgres")
    stripped = content.strip("\r\n")
    if stripped:
        assert not _can_login(pg_server, db["user"], stripped, "postgres")


def test_success_is_reported_only_after_a_login_with_the_secret(
        helm3: Helm, pg_server: PgServer, tmp_path: Path) -> None:
    """The login check goes to the pod's IP; when it cannot log in, no ✅, and it says why."""
    db = _app_role(pg_server, "initial-A")
    sidecar = _start(helm3, pg_server, db, tmp_path / "secret" / "password", "B-new",
                     VERIFY_HOST="127.0.0.2")  # the server does not listen there
    try:
        failed = sidecar.wait_for("la connexion avec le mot de passe du Secret échoue")
    finally:
        output = sidecar.stop()
    assert failed, output
    assert "✅" not in output
    assert "B-new" not in output


# --- item 8: drift repaired, an unreachable server said -----------------------------------------


def test_a_manual_alter_role_is_undone(helm3: Helm, pg_server: PgServer, tmp_path: Path) -> None:
    db = _app_role(pg_server, "initial-A")
    sidecar = _start(helm3, pg_server, db, tmp_path / "secret" / "password", SPECIAL,
                     REVERIFY_INTERVAL_SECONDS="1")
    try:
        assert sidecar.wait_for(_synced(db)), sidecar.output
        with pg_server.admin() as conn:
            conn.execute(psycopg.sql.SQL("ALTER ROLE {} PASSWORD 'changed-by-hand'").format(
                psycopg.sql.Identifier(db["user"])))
        repaired = wait_for(lambda: _can_login(pg_server, db["user"], SPECIAL, "postgres"), 20)
        logged = sidecar.wait_for("ne permet plus de se connecter")
        wait_for(lambda: sidecar.output.count(_synced(db)) == 2, 5)
    finally:
        output = sidecar.stop()
    assert repaired and logged, output
    assert output.count(_synced(db)) == 2, output
    assert not _can_login(pg_server, db["user"], "changed-by-hand", "postgres")
    assert SPECIAL not in output


def test_an_unreachable_server_is_logged_once(helm3: Helm, pg_server: PgServer, tmp_path: Path) -> None:
    db = _app_role(pg_server, "initial-A")
    nowhere = tmp_path / "no-server-here"
    nowhere.mkdir()
    sidecar = _start(helm3, pg_server, db, tmp_path / "secret" / "password", "B-new", PGHOST=str(nowhere))
    try:
        logged = sidecar.wait_for("serveur PostgreSQL injoignable")
        time.sleep(2)  # more checks fail: still one line
    finally:
        output = sidecar.stop()
    assert logged, output
    assert output.count("injoignable") == 1, output
    assert _can_login(pg_server, db["user"], "initial-A", "postgres")


def test_run_from_a_terminal_it_still_reads_the_password_from_the_file(
        helm3: Helm, pg_server: PgServer, tmp_path: Path) -> None:
    """psql's \\password prompts on the controlling terminal when there is one (a manual run in
    `kubectl exec -it`): the script detaches from it, or the password lines would reach the server as SQL."""
    import fcntl
    import pty
    import termios

    db = _app_role(pg_server, "initial-A")
    docs = _render_for(helm3, "postgresql-rhdemo", db, "robust")
    script, env = _sidecar(docs, "postgresql-rhdemo", pg_server, tmp_path / "secret" / "password", SPECIAL)
    leader, follower = pty.openpty()

    def take_the_terminal() -> None:  # in the child: a new session whose controlling terminal is the pty
        fcntl.ioctl(follower, termios.TIOCSCTTY, 0)

    process = subprocess.Popen([*SHELL, "-c", script], env=env, stdin=follower, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True,
                               preexec_fn=take_the_terminal)
    os.close(follower)
    sidecar = Sidecar(script, env, process)
    try:
        synced = sidecar.wait_for(_synced(db))
    finally:
        output = sidecar.stop()
        os.close(leader)
    assert synced, output
    assert _can_login(pg_server, db["user"], SPECIAL, "postgres")
