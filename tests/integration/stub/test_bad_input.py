"""The stub process against bad input (issue 12, item 5): every answer is a Spring-shaped 4xx, or a 500
that is logged the way Spring logs it — never an unlogged 500, a crash or a body read whole into memory."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.integration.stub.conftest import Stub, StubRunner
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration

API = "/api/employes"
MAX_BODY_BYTES = 1024 * 1024  # the stub's cap (web.MAX_BODY_BYTES)
SPRING_KEYS = {"timestamp", "status", "error", "message", "path"}
_SERVLET_FAILURE = re.compile(r"ERROR \d+ --- \[rhdemo\] \[\s*[\w-]+\] o\.a\.c\.c\.C\.\[\.\[\.\[/\]\.\[dispatcherServlet\]\s+: "
                              r"Servlet\.service\(\) for servlet \[dispatcherServlet\] in context with path \[\] "
                              r"threw exception \[Request processing failed: (?P<exception>.+)\] with root cause")


@pytest.fixture
def stub(stubs: StubRunner) -> Stub:
    return stubs.run_started(RHDEMO_APP_VERSION="1.1")


def _alice(**fields: object) -> dict[str, object]:
    return {"prenom": "Alice", "nom": "Martin", "mail": "alice@rhdemo.fr", "adresse": "1 rue de Paris", **fields}


def _assert_spring_error(response: httpx.Response, status: int, path: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == SPRING_KEYS, body
    assert body["status"] == status and body["path"] == path
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["timestamp"])
    return body


def _logged(stub: Stub, text: str, timeout: float = 5) -> bool:
    """Whether the stub logged `text`: its output is read by a thread, so a line may lag the answer."""
    deadline = time.monotonic() + timeout
    while text not in stub.output:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def _megabytes(total: int, chunk: int = 1024 * 1024) -> Iterator[bytes]:
    """A JSON-looking body streamed chunk by chunk (the client never holds it whole either)."""
    block = b'{"prenom": "' + b"A" * (chunk - 12)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


# --- bodies ----------------------------------------------------------------------------------------

def test_a_150_mb_body_is_413_and_never_read_into_memory(stub: Stub) -> None:
    before = _rss_kib(stub.proc.pid)
    size = 150 * 1024 * 1024
    with httpx.Client(timeout=60) as client:
        response = client.post(f"{stub.api}{API}", content=_megabytes(size),
                               headers={"content-type": "application/json", "content-length": str(size)})
    after = _rss_kib(stub.proc.pid)
    body = _assert_spring_error(response, 413, API)
    assert body["error"] == "Payload Too Large"
    assert body["message"] == f"Maximum upload size of {MAX_BODY_BYTES} bytes exceeded"
    assert after - before < 20 * 1024, f"RSS grew from {before} KiB to {after} KiB"
    # and the stub still answers
    assert httpx.get(f"{stub.api}{API}").status_code == 200


def test_a_chunked_body_is_counted_while_it_streams(stub: Stub) -> None:
    """No Content-Length: the cap is enforced on the bytes as they arrive."""
    before = _rss_kib(stub.proc.pid)
    with httpx.Client(timeout=60) as client:  # a generator without a length goes out chunked
        response = client.put(f"{stub.api}{API}/1", content=_megabytes(64 * 1024 * 1024),
                              headers={"content-type": "application/json"})
    after = _rss_kib(stub.proc.pid)
    _assert_spring_error(response, 413, f"{API}/1")
    assert after - before < 20 * 1024, f"RSS grew from {before} KiB to {after} KiB"


def test_a_body_just_under_the_cap_is_read(stub: Stub, http: httpx.Client) -> None:
    padding = "x" * (MAX_BODY_BYTES - 200)
    body = _alice()
    body["ignored"] = padding  # unknown fields are ignored, like Jackson in Spring Boot
    response = http.post(f"{stub.api}{API}", json=body)
    assert response.status_code == 201, response.text


def test_an_early_413_keeps_the_answer_readable_on_a_raw_socket(stub: Stub) -> None:
    """A client that announces a big body and waits for the answer (Expect-less) gets the 413 at once."""
    with socket.create_connection(("127.0.0.1", stub.port), timeout=10) as sock:
        sock.sendall(f"POST {API} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {200 * 1024 * 1024}\r\n\r\n{{".encode())
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413 "), answer


# --- ids, paging -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["²", "٣", "１", "𝟐", "1_000", " 1", "0x10", "9223372036854775808"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_ids_are_ascii_digits_only(stub: Stub, http: httpx.Client, method: str, raw: str) -> None:
    """Python's int() (and Java's Long.parseLong) take any Unicode decimal digit: the stub takes ASCII only."""
    kwargs = {"json": _alice()} if method == "PUT" else {}
    url = httpx.URL(f"{stub.api}{API}/{raw}")
    response = http.request(method, url, **kwargs)  # type: ignore[arg-type]
    # Spring's `path` is the request URI as sent (Tomcat's getRequestURI, not decoded).
    body = _assert_spring_error(response, 400, url.raw_path.decode())
    assert body["message"] == ("Method parameter 'id': Failed to convert value of type 'java.lang.String' to "
                               f"required type 'java.lang.Long'; For input string: \"{raw}\"")
    assert "Traceback" not in stub.output


@pytest.mark.parametrize("name, raw", [
    ("page", "9223372036854775808"), ("page", "2147483648"), ("page", "99999999999999999999999999"),
    ("page", "٣"), ("size", "²"), ("size", "4294967296"), ("page", "1e3"),
])
def test_paging_parameters_are_java_ints(stub: Stub, http: httpx.Client, name: str, raw: str) -> None:
    """`@RequestParam int page`: past Integer.MAX_VALUE or not ASCII digits, Spring's type mismatch (400)."""
    response = http.get(f"{stub.api}{API}", params={name: raw})
    body = _assert_spring_error(response, 400, API)
    assert body["message"] == (f"Method parameter '{name}': Failed to convert value of type 'java.lang.String' "
                               f"to required type 'int'; For input string: \"{raw}\"")
    # logged like Spring's DefaultHandlerExceptionResolver
    assert _logged(stub, ".w.s.m.s.DefaultHandlerExceptionResolver : Resolved [org.springframework.web.method."
                         f"annotation.MethodArgumentTypeMismatchException: {body['message']}]"), stub.output


def test_the_last_int_page_is_an_empty_page(stub: Stub, http: httpx.Client) -> None:
    """page * size past bigint can no longer happen: int page times a size of at most 2000 fits."""
    response = http.get(f"{stub.api}{API}", params={"page": str(2**31 - 1), "size": "2000"})
    assert response.status_code == 200, response.text
    assert response.json()["content"] == [] and response.json()["page"]["number"] == 2**31 - 1


# --- strings and JSON ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw_value", [r'"A\u0000lice"', r'"\ud800"', r'"Al\udfffice"', r'"\u0000"'])
@pytest.mark.parametrize("field", ["prenom", "adresse", "telephone"])
def test_nul_and_lone_surrogates_are_400(stub: Stub, http: httpx.Client, field: str, raw_value: str) -> None:
    fields = {k: v for k, v in _alice().items() if k != field}
    # Written by hand: the escapes (\u0000, a lone \ud800) reach the server exactly as given.
    text = "{" + ", ".join([f'"{field}": {raw_value}', *(f'"{k}": "{v}"' for k, v in fields.items())]) + "}"
    for method, path in (("POST", API), ("PUT", f"{API}/1")):
        response = http.request(method, f"{stub.api}{path}", content=text.encode(),
                                headers={"content-type": "application/json"})
        body = _assert_spring_error(response, 400, path)
        assert body["message"] == "Validation failed for object='employe'. Error count: 1"
    assert "Traceback" not in stub.output


def test_a_body_that_is_not_utf8_is_400(stub: Stub, http: httpx.Client) -> None:
    response = http.post(f"{stub.api}{API}", content=b'{"prenom": "\xff\xfe"}',
                         headers={"content-type": "application/json"})
    _assert_spring_error(response, 400, API)


@pytest.mark.parametrize("opening, closing", [(b"[", b"]"), (b'{"":', b"}")])
def test_json_nested_200000_deep_is_400(stub: Stub, http: httpx.Client, opening: bytes, closing: bytes) -> None:
    depth = 200_000
    response = http.post(f"{stub.api}{API}", content=opening * depth + b"1" + closing * depth,
                         headers={"content-type": "application/json"})
    body = _assert_spring_error(response, 400, API)
    # Jackson's texts (checked against the real app by tests/conformance): a top-level array fails at its
    # first token, an object at nesting level 1001.
    if opening == b"[":
        assert body["message"] == ("JSON parse error: Cannot deserialize value of type "
                                   "`fr.leuwen.rhdemoAPI.model.Employe` from Array value (token `JsonToken.START_ARRAY`)")
    else:
        assert body["message"] == ("JSON parse error: Document nesting depth (1001) exceeds the maximum allowed "
                                   "(1000, from `StreamReadConstraints.getMaxNestingDepth()`)")
    assert _logged(stub, "DefaultHandlerExceptionResolver : Resolved [org.springframework.http.converter."
                         f"HttpMessageNotReadableException: {body['message']}]"), stub.output
    assert http.get(f"{stub.api}{API}").status_code == 200


def test_nesting_is_counted_outside_strings(stub: Stub, http: httpx.Client) -> None:
    """Brackets inside a string value are text, not nesting."""
    response = http.post(f"{stub.api}{API}", json={**_alice(), "note": "[{" * 1000})  # an ignored field
    assert response.status_code == 201, response.text


# --- the database refuses the data -----------------------------------------------------------------

def _alter(pg_server: PgServer, pg_database: dict[str, str], statement: str) -> None:
    with psycopg.connect(pg_server.tcp_dsn(pg_database["user"], pg_database["password"], pg_database["name"]),
                         autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def test_a_database_data_error_is_400_and_logged_like_hibernate(
        stub: Stub, http: httpx.Client, pg_server: PgServer, pg_database: dict[str, str]) -> None:
    """A column narrower than the entity (Hibernate's validate does not compare lengths): 22001 -> 400."""
    _alter(pg_server, pg_database, "ALTER TABLE employes ALTER COLUMN nom TYPE varchar(5)")
    response = http.post(f"{stub.api}{API}", json=_alice(nom="Martin-Durand"))
    body = _assert_spring_error(response, 400, API)
    assert "value too long for type character varying(5)" in str(body["message"])
    assert _logged(stub, "SQL Error: 0, SQLState: 22001"), stub.output
    assert _logged(stub, "ERROR: value too long for type character varying(5)"), stub.output


# --- unexpected errors -----------------------------------------------------------------------------

def test_an_unexpected_error_is_logged_like_spring_and_answers_spring_500(
        stub: Stub, http: httpx.Client, pg_server: PgServer, pg_database: dict[str, str]) -> None:
    """The table dropped under the running app: Spring's 500 body, and Tomcat's servlet failure line
    with the root cause in the log (before: a text/plain 500 and nothing logged)."""
    _alter(pg_server, pg_database, "DROP TABLE employes")
    for method, path in (("GET", API), ("GET", f"{API}/1"), ("POST", API)):
        kwargs = {"json": _alice()} if method == "POST" else {}
        response = http.request(method, f"{stub.api}{path}", **kwargs)  # type: ignore[arg-type]
        body = _assert_spring_error(response, 500, path)
        assert body["error"] == "Internal Server Error"
        assert 'relation "employes" does not exist' in str(body["message"])
    deadline = time.monotonic() + 5
    while len(_SERVLET_FAILURE.findall(stub.output)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    failures = [m.group("exception") for m in _SERVLET_FAILURE.finditer(stub.output)]
    assert len(failures) == 3, stub.output
    assert all(f.startswith("org.springframework.dao.InvalidDataAccessResourceUsageException: ") for f in failures)
    assert _logged(stub, "SQL Error: 0, SQLState: 42P01"), stub.output
    assert _logged(stub, 'org.postgresql.util.PSQLException: ERROR: relation "employes" does not exist'), stub.output
    assert "Traceback" not in stub.output


def test_an_unexpected_error_on_the_management_port_is_logged_too(
        stub: Stub, http: httpx.Client, pg_server: PgServer, pg_database: dict[str, str]) -> None:
    """Flyway's history table altered by hand: /actuator/flyway cannot read it (before: a 500 saying
    `Failed to obtain JDBC Connection`, nothing logged)."""
    _alter(pg_server, pg_database, "ALTER TABLE flyway_schema_history DROP COLUMN checksum")
    response = http.get(f"{stub.management}/actuator/flyway")
    body = _assert_spring_error(response, 500, "/actuator/flyway")
    assert 'column "checksum" does not exist' in str(body["message"])
    assert _logged(stub, "[dispatcherServletRegistration] : Servlet.service() for servlet "
                         "[dispatcherServletRegistration] in context with path [] threw exception [Request processing "
                         "failed: org.springframework.dao.InvalidDataAccessResourceUsageException: "), stub.output
    assert _logged(stub, "SQL Error: 0, SQLState: 42703"), stub.output


# --- the API's description -------------------------------------------------------------------------

def test_the_stub_serves_its_openapi_description(stub: Stub, http: httpx.Client) -> None:
    response = http.get(f"{stub.api}/v3/api-docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/api/employes", "/api/employes/{id}"}
    assert set(doc["paths"]["/api/employes"]) == {"get", "post"}
    assert set(doc["paths"]["/api/employes/{id}"]) == {"get", "put", "delete"}
    employe = doc["components"]["schemas"]["Employe"]
    assert set(employe["properties"]) == {"id", "adresse", "mail", "nom", "prenom", "telephone"}
    assert employe["properties"]["telephone"]["maxLength"] == 20


def test_release_1_0_describes_its_own_model(stubs: StubRunner, http: httpx.Client) -> None:
    stub = stubs.run_started(RHDEMO_APP_VERSION="1.0")
    employe = http.get(f"{stub.api}/v3/api-docs").json()["components"]["schemas"]["Employe"]
    assert "telephone" not in employe["properties"]
