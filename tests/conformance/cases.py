"""The PostgreSQL states both implementations are run in, and what is observed in each.

Every case runs the reference app and the stub side by side (two threads), each against its own
database in the same state; a case returns one observation per implementation: facet name -> value
(a string, or a list of normalized lines)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from tests.conformance import observe
from tests.conformance.apps import IMPLEMENTATIONS, AppProcess, base_env
from tests.pgserver import PgServer

Observation = dict[str, Any]
PASSWORD = "initial-Passw0rd"
V1_SQL = (Path(__file__).resolve().parents[2] / "app-stub" / "src" / "rhdemo_stub" / "db" / "migration"
          / "V1__initial_schema.sql").read_text()
DEFAULT_CONNECTION_TIMEOUT = 30.0
SHORT_CONNECTION_TIMEOUT_MS = "3000"


@dataclass
class Database:
    server: PgServer
    name: str
    user: str
    password: str

    @classmethod
    def create(cls, server: PgServer, setup_sql: str | None = None) -> Database:
        user = f"rhdemo_{uuid.uuid4().hex[:8]}"
        name = server.create_database(owner=user, password=PASSWORD)
        database = cls(server, name, user, PASSWORD)
        if setup_sql:
            with psycopg.connect(server.tcp_dsn(user, PASSWORD, name), autocommit=True) as conn:
                conn.execute(setup_sql)  # type: ignore[arg-type]
        return database

    def as_dict(self) -> dict[str, str]:
        return {"jdbc_url": self.server.jdbc_url(self.name), "user": self.user, "password": self.password}

    def set_password(self, password: str, terminate: bool) -> None:
        with self.server.admin() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(self.user), sql.Literal(password)))
            if terminate:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (self.user,))

    def history(self) -> list[str]:
        with psycopg.connect(self.server.tcp_dsn(self.user, PASSWORD, self.name)) as conn:
            rows = conn.execute("SELECT installed_rank, version, description, type, script, checksum, success "
                                "FROM flyway_schema_history ORDER BY installed_rank").fetchall()
        return [" | ".join(str(v) for v in row) for row in rows]


@dataclass
class Run:
    """One implementation in one case: its database, its process, its normalization context."""

    implementation: str
    database: Database
    app: AppProcess
    cwd: Path

    @property
    def ctx(self) -> observe.Context:
        return observe.Context(database=self.database.name, user=self.database.user,
                               pg_port=str(self.database.server.port), port=str(self.app.port),
                               management_port=str(self.app.management_port), cwd=str(self.cwd))

    def entries(self, since: float | None = None) -> list[str]:
        """Log entries, all or those logged since the wall-clock time `since`."""
        lines = self.app.logged_since(since) if since is not None else [line.text for line in self.app.lines]
        return observe.log_entries(lines, self.ctx)


def start(implementation: str, database: Database, workdir: Path, **env: str | None) -> Run:
    cwd = workdir / implementation
    cwd.mkdir(parents=True, exist_ok=True)
    app = AppProcess(implementation, base_env(database.as_dict(), **env), cwd)
    return Run(implementation, database, app, cwd)


def side_by_side(observe_one: Callable[[str], Observation]) -> dict[str, Observation]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {impl: pool.submit(observe_one, impl) for impl in IMPLEMENTATIONS}
        return {impl: future.result() for impl, future in futures.items()}


# One client for every request (thread-safe): building a client per request costs a TLS context,
# which on a busy 2-core machine would blur the latency classes.
_CLIENT = httpx.Client()


def get(url: str, timeout: float = 60) -> tuple[httpx.Response | None, float]:
    started = time.monotonic()
    try:
        response = _CLIENT.get(url, timeout=timeout)
    except httpx.HTTPError:
        return None, time.monotonic() - started
    return response, time.monotonic() - started


def describe(response: httpx.Response | None, ctx: observe.Context) -> str:
    if response is None:
        return "no answer"
    content_type = response.headers.get("content-type", "-").split(";")[0]
    return f"{response.status_code} {content_type} {observe.json_shape(response.text, ctx)}"


# --- startup failures -------------------------------------------------------------------------------

def startup_failure(server: PgServer, workdir: Path, setup_sql: str | None, **env: str | None) -> dict[str, Observation]:
    def one(implementation: str) -> Observation:
        run = start(implementation, Database.create(server, setup_sql), workdir, **env)
        code = run.app.wait_exit()
        lines = [line.text for line in run.app.lines]
        return {"exit code": str(code),
                "startup lines": observe.startup_lines(lines, run.ctx),
                "failure lines": observe.failure_block(lines, run.ctx)}
    return side_by_side(one)


def wrong_password(flyway: bool) -> Callable[[PgServer, Path], dict[str, Observation]]:
    def case(server: PgServer, workdir: Path) -> dict[str, Observation]:
        return startup_failure(server, workdir, None, SPRING_DATASOURCE_PASSWORD="not-the-password",
                               SPRING_FLYWAY_ENABLED=str(flyway).lower(), RHDEMO_APP_VERSION="1.1")
    return case


def validate(setup_sql: str | None, release: str) -> Callable[[PgServer, Path], dict[str, Observation]]:
    def case(server: PgServer, workdir: Path) -> dict[str, Observation]:
        return startup_failure(server, workdir, setup_sql, SPRING_FLYWAY_ENABLED="false",
                               RHDEMO_APP_VERSION=release)
    return case


def flyway_non_empty(server: PgServer, workdir: Path) -> dict[str, Observation]:
    return startup_failure(server, workdir, V1_SQL, RHDEMO_APP_VERSION="1.1")


# --- running apps ---------------------------------------------------------------------------------

ENDPOINTS = ("", "/health", "/health/liveness", "/health/readiness", "/health/db", "/health/ping", "/info",
             "/flyway", "/env", "/metrics")


def actuator(run: Run, connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT) -> Observation:
    out: Observation = {}
    for path in ENDPOINTS:
        response, seconds = get(run.app.management + "/actuator" + path)
        out[f"GET /actuator{path}"] = (f"{describe(response, run.ctx)} "
                                       f"[{observe.latency_class(seconds, connection_timeout)}]")
    return out


def api(run: Run) -> Observation:
    base = run.app.api + "/api/employes"
    client = httpx.Client(timeout=30)
    alice = {"prenom": "Alice", "nom": "Martin", "mail": "alice@example.org", "adresse": "1 rue de Paris"}
    steps: list[tuple[str, Callable[[], httpx.Response]]] = [
        ("GET list (empty)", lambda: client.get(base)),
        ("POST valid", lambda: client.post(base, json=alice)),
        ("POST duplicate mail", lambda: client.post(base, json=alice)),
        ("POST blank nom", lambda: client.post(base, json={**alice, "nom": "", "mail": "b@example.org"})),
        ("GET list ?size=1&sort=nom,desc", lambda: client.get(base, params={"size": "1", "sort": "nom,desc"})),
        ("GET by id", lambda: client.get(base + "/1")),
        ("GET missing id", lambda: client.get(base + "/999")),
        ("GET id not a number", lambda: client.get(base + "/abc")),
        ("PUT", lambda: client.put(base + "/1", json={**alice, "nom": "Durand"})),
        ("DELETE", lambda: client.delete(base + "/1")),
        ("DELETE again", lambda: client.delete(base + "/1")),
        ("GET unknown path", lambda: client.get(run.app.api + "/api/unknown")),
    ]
    out: Observation = {}
    with client:
        for label, call in steps:
            response = call()
            location = response.headers.get("location")
            extra = f" Location={observe.normalize(location, run.ctx)}" if location else ""
            out[f"API {label}"] = describe(response, run.ctx) + extra
    return out


def healthy(flyway: bool) -> Callable[[PgServer, Path], dict[str, Observation]]:
    """A healthy start, every actuator endpoint, the API, then SIGTERM."""
    def case(server: PgServer, workdir: Path) -> dict[str, Observation]:
        def one(implementation: str) -> Observation:
            setup = None if flyway else V1_SQL
            run = start(implementation, Database.create(server, setup), workdir,
                        SPRING_FLYWAY_ENABLED=str(flyway).lower())
            seconds = run.app.wait_started()
            out: Observation = {"startup lines": observe.startup_lines([l.text for l in run.app.lines], run.ctx),
                                "startup time": f"{seconds:.1f} s"}
            out.update(actuator(run))
            out.update(api(run))
            stopping = time.time()
            out["exit code after SIGTERM"] = str(run.app.terminate())
            out["shutdown lines"] = run.entries(since=stopping)
            return out
        return side_by_side(one)
    return case


def baseline(server: PgServer, workdir: Path) -> dict[str, Observation]:
    """Flyway on a non-empty schema with baseline-on-migrate: V1 is skipped, V2 applied."""
    def one(implementation: str) -> Observation:
        database = Database.create(server, V1_SQL)
        run = start(implementation, database, workdir, RHDEMO_APP_VERSION="1.1",
                    SPRING_FLYWAY_BASELINE_ON_MIGRATE="true")
        run.app.wait_started()
        response, _ = get(run.app.management + "/actuator/flyway")
        out: Observation = {"startup lines": observe.startup_lines([l.text for l in run.app.lines], run.ctx),
                            "GET /actuator/flyway": describe(response, run.ctx),
                            "flyway_schema_history": database.history()}
        run.app.terminate()
        return out
    return side_by_side(one)


def outage(kind: str) -> Callable[[PgServer, Path], dict[str, Observation]]:
    """While running: the database stopped then restarted (its own server, a 3 s pool timeout so the case
    stays short), or the role's password changed and its backends terminated (Hikari's default 30 s)."""
    def case(server: PgServer, workdir: Path) -> dict[str, Observation]:
        from tests.conformance.servers import private_server, remove, restart, stop
        own = private_server() if kind == "stopped" else None
        target = own or server
        timeout_ms = SHORT_CONNECTION_TIMEOUT_MS if kind == "stopped" else None
        connection_timeout = float(timeout_ms) / 1000 if timeout_ms else DEFAULT_CONNECTION_TIMEOUT
        try:
            runs = {impl: start(impl, Database.create(target), workdir,
                                SPRING_DATASOURCE_HIKARI_CONNECTION_TIMEOUT=timeout_ms)
                    for impl in IMPLEMENTATIONS}
            for run in runs.values():
                run.app.wait_started()
                get(run.app.management + "/actuator/health/db")   # a pooled connection exists
            # Past Hikari's 500 ms alive-bypass window: the next borrower validates the pooled connection
            # (a connection used just before is lent without validation, a race of its own).
            time.sleep(1.0)
            began = time.time()
            if kind == "stopped":
                stop(target)
            else:
                for run in runs.values():
                    run.database.set_password("rotated-Passw0rd", terminate=True)
            observed = side_by_side(lambda impl: _during_outage(runs[impl], connection_timeout))
            if kind == "password":
                # Past a minute of failed connections Hikari warns "Pool is empty": one more borrower then.
                time.sleep(max(0.0, began + 62 - time.time()))
                side_by_side(lambda impl: {"again": get(runs[impl].app.management + "/actuator/health/db",
                                                        timeout=connection_timeout + 30)})
            if kind == "stopped":
                restart(target)
            else:
                for run in runs.values():
                    run.database.set_password(PASSWORD, terminate=False)
            back = time.monotonic()
            recovered = side_by_side(lambda impl: _recovery(runs[impl], back))
            for impl, run in runs.items():
                observed[impl].update(recovered[impl])
                observed[impl]["log lines during the outage"] = sorted(set(run.entries(since=began)))
                run.app.terminate()
            return observed
        finally:
            if own is not None:
                remove(own)
    return case


def _during_outage(run: Run, connection_timeout: float) -> Observation:
    out: Observation = {}
    results: dict[str, str] = {}

    def probe(label: str, url: str) -> None:
        response, seconds = get(url, timeout=connection_timeout + 30)
        results[label] = f"{describe(response, run.ctx)} [{observe.latency_class(seconds, connection_timeout)}]"

    urls = {f"GET /actuator{path}": run.app.management + "/actuator" + path
            for path in ("/health", "/health/liveness", "/health/readiness", "/health/db")}
    urls["API GET /api/employes"] = run.app.api + "/api/employes"
    threads = [threading.Thread(target=probe, args=item) for item in urls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for label in urls:
        out[f"{label} during the outage"] = results[label]
    return out


def _recovery(run: Run, back: float) -> Observation:
    deadline = back + 90
    while time.monotonic() < deadline:
        response, _ = get(run.app.management + "/actuator/health/db", timeout=60)
        if response is not None and response.status_code == 200:
            return {"recovery time of /actuator/health/db": observe.recovery_class(time.monotonic() - back)}
        time.sleep(0.1)
    return {"recovery time of /actuator/health/db": observe.recovery_class(None)}


def bad_input(server: PgServer, workdir: Path) -> dict[str, Observation]:
    """Hostile requests to a healthy app (issue 12): what each answers, and what each logs meanwhile."""
    def one(implementation: str) -> Observation:
        database = Database.create(server)
        run = start(implementation, database, workdir, RHDEMO_APP_VERSION="1.1")
        run.app.wait_started()
        base = run.app.api + "/api/employes"
        json_headers = {"content-type": "application/json"}
        alice = '"nom": "Martin", "mail": "alice@example.org"'
        client = httpx.Client(timeout=60)
        steps: list[tuple[str, Callable[[], httpx.Response]]] = [
            ("GET id ² (not a decimal digit)", lambda: client.get(base + "/²")),
            ("GET id ٣ (an Arabic-Indic digit)", lambda: client.get(base + "/٣")),
            ("GET id past Long.MAX_VALUE", lambda: client.get(base + "/9223372036854775808")),
            ("GET page past Integer.MAX_VALUE", lambda: client.get(base, params={"page": "2147483648"})),
            ("GET page past Long.MAX_VALUE", lambda: client.get(base, params={"page": "9223372036854775808"})),
            ("GET size not a number", lambda: client.get(base, params={"size": "x"})),
            ("POST prenom with NUL", lambda: client.post(
                base, content=('{"prenom": "A\\u0000B", ' + alice + "}").encode(), headers=json_headers)),
            ("POST prenom with a lone surrogate", lambda: client.post(
                base, content=('{"prenom": "A\\ud800B", ' + alice + "}").encode(), headers=json_headers)),
            ("POST JSON nested 200,000 deep", lambda: client.post(
                base, content=b"[" * 200_000 + b"]" * 200_000, headers=json_headers)),
            ("POST JSON object nested 200,000 deep", lambda: client.post(
                base, content=b'{"":' * 200_000 + b"1" + b"}" * 200_000, headers=json_headers)),
            ("POST 2 MiB body", lambda: client.post(
                base, content=('{"prenom": "' + "A" * 2 * 1024 * 1024 + '", ' + alice + "}").encode(),
                headers=json_headers)),
        ]
        out: Observation = {}
        began = time.time()
        with client:
            for label, call in steps:
                out[f"API {label}"] = describe(call(), run.ctx)
            with psycopg.connect(server.tcp_dsn(database.user, database.password, database.name),
                                 autocommit=True) as conn:
                stored = conn.execute("SELECT prenom FROM employes ORDER BY id").fetchall()
                out["rows stored by the requests above"] = [repr(row[0]) for row in stored]
                conn.execute("DELETE FROM employes")
                conn.execute("ALTER TABLE employes ALTER COLUMN nom TYPE varchar(5)")
            out["API POST nom longer than its column (varchar(5))"] = describe(client.post(
                base, json={"prenom": "Alice", "nom": "Martin", "mail": "alice@example.org"}), run.ctx)
        time.sleep(0.5)
        out["log lines of the bad requests"] = sorted(set(run.entries(since=began)))
        run.app.terminate()
        return out
    return side_by_side(one)


@dataclass(frozen=True)
class Case:
    name: str
    state: str
    run: Callable[[PgServer, Path], dict[str, Observation]]


WRONG_TYPE_SQL = ("CREATE TABLE employes (id BIGSERIAL PRIMARY KEY, prenom VARCHAR(250) NOT NULL, "
                  "nom VARCHAR(250) NOT NULL, mail INTEGER NOT NULL, adresse VARCHAR(500))")
CASES: tuple[Case, ...] = (
    Case("wrong-password-flyway-on", "wrong password at startup, Flyway on", wrong_password(True)),
    Case("wrong-password-flyway-off", "wrong password at startup, Flyway off", wrong_password(False)),
    Case("validate-empty-schema", "ddl-auto=validate on an empty schema (Flyway off)", validate(None, "1.0")),
    Case("validate-missing-column", "release 1.1 validating a 1.0 schema (Flyway off)", validate(V1_SQL, "1.1")),
    Case("validate-wrong-type", "ddl-auto=validate, `mail` is an integer (Flyway off)",
         validate(WRONG_TYPE_SQL, "1.0")),
    Case("flyway-non-empty-schema", "Flyway on a non-empty schema, no baseline", flyway_non_empty),
    Case("flyway-baseline", "Flyway on a non-empty schema with baseline-on-migrate", baseline),
    Case("healthy-flyway-on", "healthy start (Flyway on), actuator, API, SIGTERM", healthy(True)),
    Case("healthy-flyway-off", "healthy start (Flyway off), actuator, API, SIGTERM", healthy(False)),
    Case("bad-input", "healthy start (Flyway on, release 1.1), hostile requests", bad_input),
    Case("database-stopped", "database stopped then restarted while running (pool timeout 3 s)", outage("stopped")),
    Case("password-changed", "password changed and backends terminated while running (pool timeout 30 s)",
         outage("password")),
)
