"""The REST contract on server.port and the actuator on management.server.port."""

from __future__ import annotations

import time

import httpx
import psycopg
import pytest

from tests.integration.stub.conftest import Stub, StubRunner
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


@pytest.mark.parametrize("payload, fragment", [
    ({"nom": "A", "mail": "a@rhdemo.fr"}, "prenom: must not be blank"),
    ({"prenom": "A", "nom": "B", "mail": "not-a-mail"}, "mail: must be a well-formed email address"),
    ({"prenom": "A" * 251, "nom": "B", "mail": "a@rhdemo.fr"}, "prenom: size must be between 0 and 250"),
    ({"prenom": "A", "nom": "B", "mail": "a@rhdemo.fr", "telephone": "0" * 21}, "telephone: size must be between 0 and 20"),
    ({"prenom": 1, "nom": "B", "mail": "a@rhdemo.fr"}, "prenom: must be a string"),
    (["not", "an", "object"], "Request body must be a JSON object"),
])
def test_invalid_bodies_are_400_with_a_clear_message(stub: Stub, http: httpx.Client, payload: object,
                                                     fragment: str) -> None:
    response = http.post(f"{stub.api}/api/employes", json=payload)
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert response.json()["error"] == "Bad Request"


@pytest.mark.parametrize("path, params, fragment", [
    ("/api/employes/abc", {}, "Failed to convert 'id' with value: 'abc'"),
    ("/api/employes", {"page": "-1"}, "Page index must not be less than zero"),
    ("/api/employes", {"size": "0"}, "Page size must be between 1 and 2000"),
    ("/api/employes", {"page": "x"}, "Parameter 'page' must be an integer"),
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
    assert http.get(f"{stub.management}/actuator/health/liveness").json() == {
        "status": "UP", "components": {"livenessState": {"status": "UP"}}}
    readiness = http.get(f"{stub.management}/actuator/health/readiness").json()
    assert readiness["status"] == "UP" and set(readiness["components"]) == {"db", "readinessState"}
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


def test_health_is_503_when_the_database_is_down(stub: Stub, http: httpx.Client, pg_server: PgServer,
                                                 pg_database: dict[str, str]) -> None:
    user = psycopg.sql.Identifier(pg_database["user"])
    with pg_server.admin() as conn:  # the database becomes unreachable for the app's role
        conn.execute(psycopg.sql.SQL("ALTER ROLE {} NOLOGIN").format(user))
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                     (pg_database["user"],))
    try:
        health = http.get(f"{stub.management}/actuator/health")
        assert health.status_code == 503
        assert health.json()["status"] == "DOWN"
        assert health.json()["components"]["db"]["status"] == "DOWN"
        assert http.get(f"{stub.management}/actuator/health/readiness").status_code == 503
        assert http.get(f"{stub.management}/actuator/health/db").status_code == 503
        assert http.get(f"{stub.management}/actuator/health/liveness").status_code == 200
    finally:
        with pg_server.admin() as conn:
            conn.execute(psycopg.sql.SQL("ALTER ROLE {} LOGIN").format(user))
    deadline = time.monotonic() + 15  # and it recovers by itself
    while http.get(f"{stub.management}/actuator/health").status_code != 200:
        assert time.monotonic() < deadline, "health did not come back UP"
        time.sleep(0.2)


def test_sigterm_is_a_graceful_shutdown(stub: Stub, pg_database: dict[str, str]) -> None:
    assert stub.stop() == 0
    assert pg_database["password"] not in stub.output
    assert "Commencing graceful shutdown" in stub.output
    assert "Graceful shutdown complete" in stub.output
    assert "HikariPool-1 - Shutdown completed." in stub.output
