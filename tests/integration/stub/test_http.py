"""The REST contract on server.port and the actuator on management.server.port."""

from __future__ import annotations

import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.integration.stub.conftest import Stub, StubRunner, stub_command
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration


@pytest.fixture
def stub(stubs: StubRunner) -> Stub:
    return stubs.run_started(RHDEMO_APP_VERSION="1.1")


def _employe(n: int) -> dict[str, str]:
    return {"prenom": f"Prénom{n}", "nom": f"Nom{n:02d}", "mail": f"e{n}@rhdemo.fr", "adresse": f"{n} rue de Paris"}


def test_crud(stub: Stub, http: httpx.Client) -> None:
    created = http.post(f"{stub.api}/api/employes", json={**_employe(1), "telephone": "0600000000"})
    assert created.status_code == 201
    body = created.json()
    assert body == {"id": body["id"], **_employe(1), "telephone": "0600000000"}
    assert created.headers["location"] == f"/api/employes/{body['id']}"

    assert http.get(f"{stub.api}/api/employes/{body['id']}").json() == body

    changed = http.put(f"{stub.api}/api/employes/{body['id']}", json={**_employe(1), "nom": "Martin"})
    assert changed.status_code == 200
    assert changed.json()["nom"] == "Martin"
    assert changed.json()["telephone"] is None  # PUT replaces the whole resource

    assert http.delete(f"{stub.api}/api/employes/{body['id']}").status_code == 204
    missing = http.get(f"{stub.api}/api/employes/{body['id']}")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404 and missing.json()["path"] == f"/api/employes/{body['id']}"
    assert http.delete(f"{stub.api}/api/employes/{body['id']}").status_code == 404
    assert http.put(f"{stub.api}/api/employes/{body['id']}", json=_employe(1)).status_code == 404


def test_paging_and_sorting(stub: Stub, http: httpx.Client) -> None:
    ids = [http.post(f"{stub.api}/api/employes", json=_employe(n)).json()["id"] for n in range(5)]
    page = http.get(f"{stub.api}/api/employes", params={"page": 1, "size": 2}).json()
    assert [e["id"] for e in page["content"]] == ids[2:4]
    assert page["page"] == {"size": 2, "number": 1, "totalElements": 5, "totalPages": 3}
    last = http.get(f"{stub.api}/api/employes", params={"page": 2, "size": 2}).json()
    assert [e["id"] for e in last["content"]] == ids[4:]
    by_name_desc = http.get(f"{stub.api}/api/employes", params={"sort": "nom,desc"}).json()
    assert [e["nom"] for e in by_name_desc["content"]] == [f"Nom{n:02d}" for n in reversed(range(5))]
    default = http.get(f"{stub.api}/api/employes").json()
    assert default["page"]["size"] == 20 and len(default["content"]) == 5


# Spring's MethodArgumentNotValidException text (what the reference app answers, see tests/conformance).
_INVALID = "Validation failed for object='employe'. Error count: 1"


@pytest.mark.parametrize("payload, fragment", [
    ({"nom": "A", "mail": "a@rhdemo.fr"}, _INVALID),
    ({"prenom": "A", "nom": "B", "mail": "not-a-mail"}, _INVALID),
    ({"prenom": "A" * 251, "nom": "B", "mail": "a@rhdemo.fr"}, _INVALID),
    ({"prenom": "A", "nom": "B", "mail": "a@rhdemo.fr", "telephone": "0" * 21}, _INVALID),
    ({"prenom": ["A"], "nom": "B", "mail": "a@rhdemo.fr"}, _INVALID),
    ({"nom": "", "mail": "not-a-mail"}, "Validation failed for object='employe'. Error count: 3"),
    (["not", "an", "object"], "JSON parse error: Cannot deserialize value of type `fr.leuwen.rhdemoAPI.model.Employe` "
                              "from Array value (token `JsonToken.START_ARRAY`)"),
    ("not an object", "Request body must be a JSON object"),
])
def test_invalid_bodies_are_400_with_a_clear_message(stub: Stub, http: httpx.Client, payload: object,
                                                     fragment: str) -> None:
    response = http.post(f"{stub.api}/api/employes", json=payload)
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert response.json()["error"] == "Bad Request"


@pytest.mark.parametrize("path, params, fragment", [
    ("/api/employes/abc", {}, "Method parameter 'id': Failed to convert value of type 'java.lang.String' to "
                              "required type 'java.lang.Long'; For input string: \"abc\""),
    ("/api/employes", {"page": "-1"}, "Page index must not be less than zero"),
    ("/api/employes", {"size": "0"}, "Page size must be between 1 and 2000"),
    ("/api/employes", {"page": "x"}, "Method parameter 'page': Failed to convert value of type 'java.lang.String' "
                                     "to required type 'int'; For input string: \"x\""),
    ("/api/employes", {"sort": "salaire,asc"}, "Invalid sort 'salaire,asc'"),
])
def test_invalid_parameters_are_400(stub: Stub, http: httpx.Client, path: str, params: dict, fragment: str) -> None:
    response = http.get(f"{stub.api}{path}", params=params)
    assert response.status_code == 400
    assert fragment in response.json()["message"]


def test_malformed_json_is_400(stub: Stub, http: httpx.Client) -> None:
    response = http.post(f"{stub.api}/api/employes", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"] == "Malformed JSON request body"


def test_duplicate_mail_is_409(stub: Stub, http: httpx.Client) -> None:
    first = http.post(f"{stub.api}/api/employes", json=_employe(1)).json()
    duplicate = http.post(f"{stub.api}/api/employes", json={**_employe(2), "mail": first["mail"]})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == "Conflict"
    other = http.post(f"{stub.api}/api/employes", json=_employe(2)).json()
    clash = http.put(f"{stub.api}/api/employes/{other['id']}", json={**_employe(2), "mail": first["mail"]})
    assert clash.status_code == 409


def test_release_1_0_has_no_telephone_and_ignores_it(stubs: StubRunner, http: httpx.Client) -> None:
    stub = stubs.run_started(RHDEMO_APP_VERSION="1.0")
    body = http.post(f"{stub.api}/api/employes", json={**_employe(1), "telephone": "0600000000"}).json()
    assert "telephone" not in body


def test_health_shapes(stub: Stub, http: httpx.Client) -> None:
    health = http.get(f"{stub.management}/actuator/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "UP"
    assert body["groups"] == ["liveness", "readiness"]
    assert body["components"]["db"] == {"status": "UP", "details": {"database": "PostgreSQL",
                                                                     "validationQuery": "isValid()"}}
    assert body["components"]["ping"] == {"status": "UP"}
    assert {"livenessState", "readinessState", "diskSpace"} <= set(body["components"])
    # Spring's probe groups: their state indicator only, and no components in the body.
    assert http.get(f"{stub.management}/actuator/health/liveness").json() == {"status": "UP"}
    assert http.get(f"{stub.management}/actuator/health/readiness").json() == {"status": "UP"}
    assert health.headers["content-type"] == "application/vnd.spring-boot.actuator.v3+json"
    assert http.get(f"{stub.management}/actuator/health/db").json()["details"]["database"] == "PostgreSQL"
    assert http.get(f"{stub.management}/actuator/health/ping").json() == {"status": "UP"}
    # The actuator lives on the management port only.
    assert http.get(f"{stub.api}/actuator/health").status_code == 404


def test_info_and_flyway(stub: Stub, http: httpx.Client) -> None:
    info = http.get(f"{stub.management}/actuator/info").json()
    assert info["app"]["version"] == "1.1" and info["model"]["version"] == "1.1"
    assert "telephone" in info["model"]["columns"]
    migrations = http.get(f"{stub.management}/actuator/flyway").json()[
        "contexts"]["rhdemo"]["flywayBeans"]["flyway"]["migrations"]
    assert [(m["version"], m["state"], m["script"]) for m in migrations] == [
        ("1", "SUCCESS", "V1__initial_schema.sql"), ("2", "SUCCESS", "V2__add_phone_column.sql")]
    assert all(isinstance(m["checksum"], int) and m["installedRank"] for m in migrations)


def _lock_out(pg_server: PgServer, pg_database: dict[str, str], login: bool) -> None:
    user = psycopg.sql.Identifier(pg_database["user"])
    with pg_server.admin() as conn:
        conn.execute(psycopg.sql.SQL("ALTER ROLE {} {}").format(user, psycopg.sql.SQL("LOGIN" if login else "NOLOGIN")))
        if not login:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                         (pg_database["user"],))


def test_health_is_503_after_the_pool_timeout_when_the_database_is_down(
        stubs: StubRunner, http: httpx.Client, pg_server: PgServer, pg_database: dict[str, str]) -> None:
    stub = stubs.run_started(SPRING_DATASOURCE_HIKARI_CONNECTION_TIMEOUT="1500")
    _lock_out(pg_server, pg_database, login=False)
    try:
        started = time.monotonic()
        health = http.get(f"{stub.management}/actuator/health")
        assert time.monotonic() - started >= 1.4  # Hikari waits its connection-timeout before giving up
        assert health.status_code == 503
        assert health.json()["components"]["db"] == {"status": "DOWN", "details": {
            "error": "org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection"}}
        assert http.get(f"{stub.management}/actuator/health/db").status_code == 503
        # Spring's default readiness group is readinessState only: the database does not make the pod unready.
        assert http.get(f"{stub.management}/actuator/health/readiness").status_code == 200
        assert http.get(f"{stub.management}/actuator/health/liveness").status_code == 200
        assert "request timed out after" in stub.output
        assert f'FATAL: role "{pg_database["user"]}" is not permitted to log in' in stub.output
    finally:
        _lock_out(pg_server, pg_database, login=True)
    deadline = time.monotonic() + 2  # and it is back at once (no growing back-off)
    while http.get(f"{stub.management}/actuator/health").status_code != 200:
        assert time.monotonic() < deadline, "health did not come back UP"
        time.sleep(0.1)


def test_readiness_includes_db_when_configured(stubs: StubRunner, http: httpx.Client, pg_server: PgServer,
                                               pg_database: dict[str, str]) -> None:
    stub = stubs.run_started(MANAGEMENT_ENDPOINT_HEALTH_GROUP_READINESS_INCLUDE="readinessState,db",
                             SPRING_DATASOURCE_HIKARI_CONNECTION_TIMEOUT="1000")
    readiness = http.get(f"{stub.management}/actuator/health/readiness")
    assert readiness.status_code == 200
    assert set(readiness.json()["components"]) == {"db", "readinessState"}  # a configured group shows them
    _lock_out(pg_server, pg_database, login=False)
    try:
        assert http.get(f"{stub.management}/actuator/health/readiness").status_code == 503
    finally:
        _lock_out(pg_server, pg_database, login=True)


def _set_password(pg_server: PgServer, user: str, password: str, *, terminate: bool) -> None:
    with pg_server.admin() as conn:
        conn.execute(psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            psycopg.sql.Identifier(user), psycopg.sql.Literal(password)))
        if terminate:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (user,))


def _refused_logins(pg_server: PgServer, user: str) -> int:
    """The server's own count: one FATAL line in its log per refused login."""
    log = (pg_server.datadir.parent / "server.log").read_text(errors="replace")
    return log.count(f'password authentication failed for user "{user}"')


@pytest.mark.parametrize("readiness_group", ["", "readinessState,db"])
def test_password_rotated_and_connections_cut_while_running(stubs: StubRunner, http: httpx.Client, pg_server: PgServer,
                                                            pg_database: dict[str, str], readiness_group: str) -> None:
    """The rotate-password window as the app lives it: the role's password changes under the running
    app and its connections are cut (a database restart, a network blip). Hikari warns about the dead
    connection, every borrower waits connection-timeout then fails with the server's refusal, health/db
    is DOWN, readiness follows its group; and however many requests wait, the pool tries ONE login at a
    time (Hikari's single connection adder), not one per waiting request."""
    user = pg_database["user"]
    stub = stubs.run_started(SPRING_DATASOURCE_HIKARI_CONNECTION_TIMEOUT="2000",
                             MANAGEMENT_ENDPOINT_HEALTH_GROUP_READINESS_INCLUDE=readiness_group or None)
    assert http.get(f"{stub.api}/api/employes").status_code == 200
    time.sleep(0.6)  # the pooled connection is idle past Hikari's 500 ms: validated before its next use
    _set_password(pg_server, user, "rotated-Passw0rd", terminate=True)
    try:
        refused_before = _refused_logins(pg_server, user)
        started = time.monotonic()
        with httpx.Client(timeout=15) as client, ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(lambda _: client.get(f"{stub.api}/api/employes").status_code, range(20)))
        waited = time.monotonic() - started
        assert answers == [500] * 20
        assert 1.9 <= waited < 6  # each waited the pool's connection-timeout (2 s), all at once
        refused = _refused_logins(pg_server, user) - refused_before
        assert 1 <= refused <= waited / 0.25 + 2, f"{refused} logins in {waited:.1f}s for 20 waiting requests"
        assert "HikariPool-1 - Failed to validate connection" in stub.output
        assert f'FATAL: password authentication failed for user "{user}"' in stub.output
        assert "Connection is not available, request timed out after" in stub.output
        started = time.monotonic()
        assert http.get(f"{stub.management}/actuator/health/db").status_code == 503
        assert time.monotonic() - started >= 1.9
        readiness = http.get(f"{stub.management}/actuator/health/readiness", timeout=15).status_code
        assert readiness == (503 if readiness_group else 200)
        assert http.get(f"{stub.management}/actuator/health/liveness").status_code == 200
    finally:
        _set_password(pg_server, user, pg_database["password"], terminate=False)
    deadline = time.monotonic() + 3  # the old password back: the pool is back at once
    while http.get(f"{stub.api}/api/employes", timeout=15).status_code != 200:
        assert time.monotonic() < deadline, "the API did not come back"
        time.sleep(0.1)
    assert pg_database["password"] not in stub.output


def test_probes_disabled_means_no_groups(stubs: StubRunner, http: httpx.Client) -> None:
    stub = stubs.run_started(MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED="false")
    body = http.get(f"{stub.management}/actuator/health").json()
    assert "groups" not in body and "readinessState" not in body["components"]
    assert http.get(f"{stub.management}/actuator/health/readiness").status_code == 404


def test_sigterm_is_a_graceful_shutdown(stub: Stub, pg_database: dict[str, str]) -> None:
    assert stub.stop() == 143  # like the JVM: 128 + SIGTERM
    assert pg_database["password"] not in stub.output
    assert "Commencing graceful shutdown" in stub.output
    assert "Graceful shutdown complete" in stub.output
    assert "HikariPool-1 - Shutdown completed." in stub.output


def test_sigterm_stops_the_stub_even_when_nobody_reads_its_output(stubs: StubRunner, tmp_path: Path) -> None:
    """A reader that went away (a closed pipe) must not keep the stub from shutting down."""
    proc = subprocess.Popen(stub_command(), env=stubs.env(), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Started RhdemoApplication" in line:
                break
        proc.stdout.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
