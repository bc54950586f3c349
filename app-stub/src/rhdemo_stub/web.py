"""The two HTTP faces: the REST API on server.port and Spring Boot Actuator on management.server.port."""

from __future__ import annotations

import json
import re
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rhdemo_stub import flyway, logs, openapi
from rhdemo_stub.model import TABLE, Model
from rhdemo_stub.pool import ConnectionNotAvailable, HikariPool, pgjdbc_exception, pgjdbc_sqlstate

_MAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_PAGE_SIZE = 2000
# The largest request body read (an employe is well under 2 KB); past it, 413 before reading the rest.
MAX_BODY_BYTES = 1024 * 1024
# Long.parseLong / Integer.parseInt take any Unicode decimal digit (so does Python's int()): ids and
# paging parameters are ASCII digits only.
_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
_JAVA_INT = (-(2**31), 2**31 - 1)
_JAVA_LONG = (-(2**63), 2**63 - 1)
# What PostgreSQL's text and JSON cannot carry faithfully: NUL, and UTF-16 halves without their pair.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_REASONS = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}
ACTUATOR_JSON = "application/vnd.spring-boot.actuator.v3+json"
SLOW_INDICATOR_SECONDS = 10.0   # management.endpoint.health.logging.slow-indicator-threshold
_DATASOURCE_INDICATOR = "org.springframework.boot.actuate.jdbc.DataSourceHealthIndicator"


@dataclass(frozen=True)
class HealthSettings:
    """The actuator knobs that change what a probe observes."""

    probes_enabled: bool = True                       # management.endpoint.health.probes.enabled
    liveness_include: tuple[str, ...] | None = None   # management.endpoint.health.group.liveness.include
    readiness_include: tuple[str, ...] | None = None  # management.endpoint.health.group.readiness.include


@dataclass
class AppState:
    """What both servers share."""

    model: Model
    pool: HikariPool
    app_name: str
    flyway_enabled: bool
    resolved: Sequence[flyway.ResolvedMigration]
    health: HealthSettings = field(default_factory=HealthSettings)
    ready: bool = False          # readinessState: ACCEPTING_TRAFFIC once started, REFUSING on shutdown
    extra_info: dict[str, Any] = field(default_factory=dict)
    servlets_initialized: set[str] = field(default_factory=set)

    def first_request(self, servlet: str, context: str) -> None:
        """Spring initializes each DispatcherServlet lazily, on the first request it serves."""
        if servlet in self.servlets_initialized:
            return
        self.servlets_initialized.add(servlet)
        thread = logs.current_thread()
        logs.log("INFO", f"o.a.c.c.C.[{context}].[localhost].[/]", f"Initializing Spring DispatcherServlet '{servlet}'",
                 thread)
        logs.log("INFO", "org.springframework.web.servlet.DispatcherServlet", f"Initializing Servlet '{servlet}'",
                 thread)
        logs.log("INFO", "org.springframework.web.servlet.DispatcherServlet", "Completed initialization in 1 ms",
                 thread)


def error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Spring Boot's error body (with server.error.include-message=always). `path` is the request URI as
    sent (Tomcat's getRequestURI is not decoded); a message echoing bad input cannot break the encoding."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
    return JSONResponse({
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "status": status, "error": _REASONS.get(status, ""),
        "message": message.encode("utf-8", "replace").decode("utf-8"), "path": path,
    }, status_code=status, headers=headers)


_RESOLVER = "org.springframework.web.servlet.mvc.support.DefaultHandlerExceptionResolver"
_TYPE_MISMATCH = "org.springframework.web.method.annotation.MethodArgumentTypeMismatchException"
_NOT_READABLE = "org.springframework.http.converter.HttpMessageNotReadableException"
_NOT_VALID = "org.springframework.web.bind.MethodArgumentNotValidException"
# The controller methods a request body is bound to, as Spring names them in MethodArgumentNotValidException.
CREATE = "[0] in public org.springframework.http.ResponseEntity<fr.leuwen.rhdemoAPI.model.Employe> " \
         "fr.leuwen.rhdemoAPI.EmployeController.create(fr.leuwen.rhdemoAPI.model.Employe)"
UPDATE = "[1] in public fr.leuwen.rhdemoAPI.model.Employe " \
         "fr.leuwen.rhdemoAPI.EmployeController.update(java.lang.Long,fr.leuwen.rhdemoAPI.model.Employe)"
# Jackson's StreamReadConstraints default, and its text when a document goes deeper.
MAX_NESTING_DEPTH = 1000
_TOO_DEEP = (f"JSON parse error: Document nesting depth ({MAX_NESTING_DEPTH + 1}) exceeds the maximum allowed "
             f"({MAX_NESTING_DEPTH}, from `StreamReadConstraints.getMaxNestingDepth()`)")
_NOT_AN_OBJECT = ("JSON parse error: Cannot deserialize value of type `fr.leuwen.rhdemoAPI.model.Employe` from "
                  "Array value (token `JsonToken.START_ARRAY`)")
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class BadRequest(Exception):
    """A 400. `resolved`: the Spring exception behind it when Spring's DefaultHandlerExceptionResolver
    handles it, which logs `Resolved [<exception>: <message>]` at WARN (ResponseStatusException: nothing)."""

    def __init__(self, message: str, resolved: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.resolved = f"{resolved}: {detail or message}" if resolved else None


class PayloadTooLarge(Exception):
    pass


def _employe_json(row: dict[str, Any], model: Model) -> dict[str, Any]:
    return {c.name: row[c.name] for c in model.columns}


def _java_integer(raw: str, name: str, java_type: str, bounds: tuple[int, int]) -> int:
    """A Long or int method parameter: ASCII digits within the Java type's range, else Spring's
    MethodArgumentTypeMismatchException text (400)."""
    if _ASCII_INTEGER.fullmatch(raw) and bounds[0] <= int(raw) <= bounds[1]:
        return int(raw)
    raise BadRequest(f"Method parameter '{name}': Failed to convert value of type 'java.lang.String' to required "
                     f"type '{java_type}'; For input string: \"{raw}\"", _TYPE_MISMATCH)


def _parse_id(raw: str) -> int:
    """`@PathVariable Long id`."""
    return _java_integer(raw, "id", "java.lang.Long", _JAVA_LONG)


def _int_param(request: Request, name: str, default: int) -> int:
    """`@RequestParam(defaultValue = ...) int name`: an int, so page * size always fits a bigint OFFSET."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    return _java_integer(raw, name, "int", _JAVA_INT)


def _sort(request: Request, model: Model) -> sql.Composable:
    names = {c.name for c in model.columns}
    orders: list[sql.Composable] = []
    for raw in request.query_params.getlist("sort"):
        field_name, _, direction = raw.partition(",")
        direction = (direction or "asc").lower()
        if field_name not in names or direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort '{raw}': expected <field>[,asc|desc] with a field among "
                             f"{', '.join(sorted(names))}")
        orders.append(sql.SQL("{} {}").format(sql.Identifier(field_name), sql.SQL(direction.upper())))
    orders.append(sql.SQL("id ASC"))  # a stable order across pages
    return sql.SQL(", ").join(orders)


def _payload(body: Any, model: Model, method: str) -> dict[str, Any]:
    """Bean validation of the Employe fields; unknown fields are ignored like Jackson in Spring Boot."""
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    values: dict[str, Any] = {}
    problems: list[str] = []
    for column in model.writable:
        value = body.get(column.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if not column.nullable:
                problems.append(f"{column.name}: must not be blank")
            values[column.name] = None
            continue
        if isinstance(value, (bool, int, float)):
            value = str(value).lower() if isinstance(value, bool) else str(value)  # Jackson coerces scalars
        if not isinstance(value, str):
            problems.append(f"{column.name}: must be a string")
            continue
        if _UNSTORABLE.search(value):
            problems.append(f"{column.name}: must not contain NUL characters or unpaired surrogates")
            continue
        if column.max_length is not None and len(value) > column.max_length:
            problems.append(f"{column.name}: size must be between 0 and {column.max_length}")
            continue
        if column.name == "mail" and not _MAIL.match(value):
            problems.append("mail: must be a well-formed email address")
            continue
        values[column.name] = value
    if problems:  # MethodArgumentNotValidException on the @Valid request body
        # Spring's exception message also lists each rejected value, its codes and arguments: reduced here.
        detail = f"Validation failed for argument {method}: " + "; ".join(
            f"[Field error in object 'employe' on field '{field}': default message [{message}]]"
            for field, message in (problem.split(": ", 1) for problem in problems))
        raise BadRequest(f"Validation failed for object='employe'. Error count: {len(problems)}", _NOT_VALID, detail)
    return values


async def _read_body(request: Request) -> bytes:
    """The body, counted as it streams: past MAX_BODY_BYTES (announced or received) nothing more is read."""
    try:
        announced = int(request.headers.get("content-length", "0"))
    except ValueError:
        announced = 0
    if announced > MAX_BODY_BYTES:
        raise PayloadTooLarge
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > MAX_BODY_BYTES:
            raise PayloadTooLarge
    return bytes(received)


def _too_deep(body: bytes) -> bool:
    """Nesting past Jackson's limit, counted outside strings without building anything."""
    if body.count(b"[") + body.count(b"{") <= MAX_NESTING_DEPTH:
        return False
    depth = 0
    for token in _JSON_TOKENS.finditer(body):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


async def _json_body(request: Request) -> Any:
    """The body as Jackson reads it into an Employe: a top-level array fails at its first token, nesting
    past 1000 levels at level 1001, whatever follows."""
    body = await _read_body(request)
    if body.lstrip(b" \t\r\n").startswith(b"["):
        raise BadRequest(_NOT_AN_OBJECT, _NOT_READABLE)
    if _too_deep(body):
        raise BadRequest(_TOO_DEEP, _NOT_READABLE)
    try:
        return json.loads(body)
    except RecursionError:  # not reached after _too_deep; the C decoder's own guard, kept as a 400
        raise BadRequest(_TOO_DEEP, _NOT_READABLE) from None
    except ValueError:  # syntax, encoding (not UTF-8/16/32), or an integer past Python's digit limit
        raise BadRequest("Malformed JSON request body", _NOT_READABLE) from None


def _pgjdbc_message(exc: psycopg.Error) -> str:
    """PostgreSQL's message as pgjdbc shows it: `ERROR: value too long for type character varying(5)`."""
    diag = exc.diag
    if diag.message_primary:
        return f"{diag.severity or 'ERROR'}: {diag.message_primary}"
    return str(exc).strip() or type(exc).__name__


def _log_sql_error(exc: psycopg.Error) -> None:
    """Hibernate's SqlExceptionHelper lines for a statement the server refused."""
    thread = logs.current_thread()
    helper = "org.hibernate.engine.jdbc.spi.SqlExceptionHelper"
    logs.log("WARN", helper, f"SQL Error: 0, SQLState: {exc.sqlstate}", thread)
    logs.log("ERROR", helper, _pgjdbc_message(exc), thread)


def _spring_exception(exc: BaseException) -> tuple[str, str, str]:
    """(exception class, its message, the root cause line) as Spring would name them: a statement the
    server refused is Spring's translation of pgjdbc's PSQLException; anything else is the stub's own bug,
    named by its Python class."""
    if isinstance(exc, psycopg.Error) and exc.sqlstate:
        pg = _pgjdbc_message(exc)
        family = {"23": "org.springframework.dao.DataIntegrityViolationException",
                  "42": "org.springframework.dao.InvalidDataAccessResourceUsageException"}.get(
                      exc.sqlstate[:2], "org.springframework.orm.jpa.JpaSystemException")
        return family, f"JDBC exception executing SQL [{pg}]", f"org.postgresql.util.PSQLException: {pg}"
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    message = str(exc) or "No message available"
    return name, message, f"{name}: {message}"


# The servlet of each web server and its Tomcat engine, as Spring Boot names them.
API_SERVLET = ("dispatcherServlet", "Tomcat")
MANAGEMENT_SERVLET = ("dispatcherServletRegistration", "Tomcat-1")


def unexpected_error(request: Request, exc: BaseException, servlet: tuple[str, str]) -> JSONResponse:
    """What Tomcat logs for an exception no handler took (the servlet failure line, then the root cause
    and its frames), and Spring Boot's 500 body. The logger is Tomcat's, abbreviated like logback's %logger{39}."""
    java_class, message, root = _spring_exception(exc)
    if isinstance(exc, psycopg.Error) and exc.sqlstate:
        _log_sql_error(exc)
    name, engine = servlet
    logs.log("ERROR", f"org.apache.catalina.core.ContainerBase.[{engine}].[localhost].[/].[{name}]",
             f"Servlet.service() for servlet [{name}] in context with path [] threw exception [Request "
             f"processing failed: {java_class}: {message}] with root cause", logs.current_thread())
    frames = [f"\tat {frame.name}({Path(frame.filename).name}:{frame.lineno})"
              for frame in reversed(traceback.extract_tb(exc.__traceback__))]
    logs.raw("\n" + "\n".join([root, *frames]) + "\n")
    return error(request, 500, message)


def _log_transaction_failure(exc: Exception, address: str) -> None:
    """What Hibernate and Tomcat log when a request finds no connection: the SQL state, the pool's
    message, the server's, then the servlet failure with its root cause."""
    thread = logs.current_thread()
    cause = exc.cause if isinstance(exc, ConnectionNotAvailable) else exc
    lines = pgjdbc_exception(cause, address)
    sqlstate = pgjdbc_sqlstate(cause) if isinstance(cause, psycopg.Error) else "08001"
    helper = "org.hibernate.engine.jdbc.spi.SqlExceptionHelper"
    logs.log("WARN", helper, f"SQL Error: 0, SQLState: {sqlstate}", thread)
    if isinstance(exc, ConnectionNotAvailable):
        logs.log("ERROR", helper, str(exc), thread)
    if lines:
        logs.log("ERROR", helper, lines[0].split(": ", 1)[1], thread)
    logs.log("ERROR", "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
             "Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception [Request "
             "processing failed: org.springframework.transaction.CannotCreateTransactionException: Could not open "
             "JPA EntityManager for transaction] with root cause", thread)
    if lines:
        logs.raw(f"\n{lines[-1]}\n\tat java.base/sun.nio.ch.Net.pollConnect(Native Method)\n")


def api_app(state: AppState) -> Starlette:
    model = state.model
    table = sql.Identifier(TABLE)
    columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in model.columns)

    def guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except BadRequest as exc:
                if exc.resolved:
                    logs.log("WARN", _RESOLVER, f"Resolved [{exc.resolved}]", logs.current_thread())
                return error(request, 400, str(exc))
            except PayloadTooLarge:
                # Spring's text for a request over its size limit; the connection is closed like Tomcat
                # does past its swallow limit, so the rest of the body is never read.
                return error(request, 413, f"Maximum upload size of {MAX_BODY_BYTES} bytes exceeded",
                             headers={"Connection": "close"})
            except psycopg.errors.UniqueViolation:
                return error(request, 409, "An employe with this mail already exists")
            except psycopg.DataError as exc:
                # The server refused a value the validation let through (e.g. a column narrower than the
                # entity's length): the client's data, so a 400, logged like Hibernate logs it.
                _log_sql_error(exc)
                return error(request, 400, f"could not execute statement [{_pgjdbc_message(exc)}]")
            except (psycopg.OperationalError, ConnectionNotAvailable) as exc:
                # Spring's transaction manager cannot get a connection within the pool's timeout.
                _log_transaction_failure(exc, state.pool.address)
                return error(request, 500, "Could not open JPA EntityManager for transaction")
            except Exception as exc:  # noqa: BLE001 - Tomcat's last resort: logged, Spring's 500 body
                return unexpected_error(request, exc, API_SERVLET)
        return endpoint

    async def list_employes(request: Request) -> Response:
        page = _int_param(request, "page", 0)
        size = _int_param(request, "size", 20)
        if page < 0:
            raise BadRequest("Page index must not be less than zero")
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise BadRequest(f"Page size must be between 1 and {MAX_PAGE_SIZE}")
        order = _sort(request, model)
        async with state.pool.connection() as conn:
            total_row = await (await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table))).fetchone()
            total = int(total_row[0]) if total_row else 0
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql.SQL("SELECT {} FROM {} ORDER BY {} LIMIT %s OFFSET %s").format(
                columns, table, order), (size, page * size))
            rows = await cur.fetchall()
        return JSONResponse({"content": [_employe_json(r, model) for r in rows],
                             "page": {"size": size, "number": page, "totalElements": total,
                                      "totalPages": (total + size - 1) // size}})

    async def get_employe(request: Request) -> Response:
        employe_id = _parse_id(request.path_params["id"])
        async with state.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql.SQL("SELECT {} FROM {} WHERE id = %s").format(columns, table), (employe_id,))
            row = await cur.fetchone()
        if row is None:
            return error(request, 404, f"Employe {employe_id} not found")
        return JSONResponse(_employe_json(row, model))

    async def create_employe(request: Request) -> Response:
        values = _payload(await _json_body(request), model, CREATE)
        names = list(values)
        async with state.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
                table, sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.SQL(", ").join(sql.Placeholder() * len(names)), columns), [values[n] for n in names])
            row = await cur.fetchone()
        assert row is not None
        body = _employe_json(row, model)
        return JSONResponse(body, status_code=201, headers={"Location": f"/api/employes/{body['id']}"})

    async def update_employe(request: Request) -> Response:
        employe_id = _parse_id(request.path_params["id"])
        values = _payload(await _json_body(request), model, UPDATE)
        async with state.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql.SQL("UPDATE {} SET {} WHERE id = %s RETURNING {}").format(
                table, sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(n)) for n in values), columns),
                [*values.values(), employe_id])
            row = await cur.fetchone()
        if row is None:
            return error(request, 404, f"Employe {employe_id} not found")
        return JSONResponse(_employe_json(row, model))

    async def delete_employe(request: Request) -> Response:
        employe_id = _parse_id(request.path_params["id"])
        async with state.pool.connection() as conn:
            cur = await conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(table), (employe_id,))
            deleted = cur.rowcount
        if not deleted:
            return error(request, 404, f"Employe {employe_id} not found")
        return Response(status_code=204)

    async def collection(request: Request) -> Response:
        state.first_request("dispatcherServlet", "Tomcat")
        handler = list_employes if request.method == "GET" else create_employe
        return await guarded(handler)(request)

    async def item(request: Request) -> Response:
        state.first_request("dispatcherServlet", "Tomcat")
        handler = {"GET": get_employe, "PUT": update_employe, "DELETE": delete_employe}[request.method]
        return await guarded(handler)(request)

    async def not_found(request: Request, exc: Exception) -> Response:
        state.first_request("dispatcherServlet", "Tomcat")
        return error(request, 404, "No static resource " + request.url.path.lstrip("/") + ".")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return error(request, 405, f"Request method '{request.method}' is not supported")

    async def api_docs(request: Request) -> Response:
        state.first_request("dispatcherServlet", "Tomcat")
        server_url = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse(openapi.api_docs(model, server_url, MAX_PAGE_SIZE))

    async def last_resort(request: Request, exc: Exception) -> Response:
        return unexpected_error(request, exc, API_SERVLET)

    return Starlette(routes=[
        Route("/api/employes", collection, methods=["GET", "POST"]),
        Route("/api/employes/{id}", item, methods=["GET", "PUT", "DELETE"]),
        Route(openapi.API_DOCS_PATH, api_docs, methods=["GET"]),
    ], exception_handlers={404: not_found, 405: not_allowed, Exception: last_resort})


_ORDER = ["DOWN", "OUT_OF_SERVICE", "UP", "UNKNOWN"]


def _aggregate(statuses: Sequence[str]) -> str:
    return min(statuses, key=_ORDER.index) if statuses else "UNKNOWN"


def _health_response(body: dict[str, Any]) -> JSONResponse:
    status = body["status"]
    code = 503 if status in ("DOWN", "OUT_OF_SERVICE") else 200
    return JSONResponse(body, status_code=code, media_type=ACTUATOR_JSON)


def management_app(state: AppState) -> Starlette:
    health_settings = state.health

    async def db_component() -> dict[str, Any]:
        """Spring's DataSourceHealthIndicator: borrow a connection (waiting up to the pool's
        connection-timeout), isValid(), give it back."""
        started = time.monotonic()
        details = {"database": "PostgreSQL", "validationQuery": "isValid()"}
        try:
            async with state.pool.connection() as conn:
                try:
                    await conn.execute("SELECT 1")
                    component = {"status": "UP", "details": details}
                except psycopg.OperationalError:
                    # A connection lent without validation (used < 500 ms ago) that the server has closed:
                    # isValid() is false, and Hikari evicts it.
                    thread = logs.current_thread()
                    logs.log("WARN", "com.zaxxer.hikari.pool.ProxyConnection",
                             f"HikariPool-1 - Connection {logs.pg_connection(conn)} marked as broken because of "
                             "SQLSTATE(08003), ErrorCode(0)", thread)
                    logs.raw("\norg.postgresql.util.PSQLException: This connection has been closed.\n"
                             "\tat org.postgresql.jdbc.PgConnection.checkClosed(PgConnection.java:1007)\n")
                    component = {"status": "DOWN", "details": details}
        except (ConnectionNotAvailable, psycopg.Error) as exc:
            thread = logs.current_thread()
            logs.log("WARN", "o.s.boot.actuate.jdbc.DataSourceHealthIndicator", "DataSource health check failed", thread)
            chain = ["org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection",
                     "\tat org.springframework.jdbc.datasource.DataSourceUtils.getConnection(DataSourceUtils.java:84)"]
            if isinstance(exc, ConnectionNotAvailable):
                chain += [f"Caused by: java.sql.SQLTransientConnectionException: {exc}", "\t... 61 common frames omitted"]
                causes = pgjdbc_exception(exc.cause, state.pool.address)
            else:
                causes = pgjdbc_exception(exc, state.pool.address)
            for cause in causes:
                chain += [f"Caused by: {cause}", "\t... 1 common frames omitted"]
            logs.raw("\n" + "\n".join(chain) + "\n")
            component = {"status": "DOWN", "details": {
                "error": "org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection"}}
        took = time.monotonic() - started
        if took > SLOW_INDICATOR_SECONDS:
            logs.log("WARN", "o.s.boot.actuate.health.HealthEndpointSupport",
                     f"Health contributor {_DATASOURCE_INDICATOR} (db) took {int(took * 1000)}ms to respond",
                     logs.current_thread())
        return component

    def disk_component() -> dict[str, Any]:
        path = Path.cwd()
        usage = shutil.disk_usage(path)
        threshold = 10 * 1024 * 1024
        return {"status": "UP" if usage.free > threshold else "DOWN",
                "details": {"total": usage.total, "free": usage.free, "threshold": threshold,
                            "path": f"{path}/.", "exists": True}}

    def readiness_component() -> dict[str, Any]:
        return {"status": "UP" if state.ready else "OUT_OF_SERVICE"}

    async def component(name: str) -> dict[str, Any] | None:
        if name == "db":
            return await db_component()
        if name == "diskSpace":
            return disk_component()
        if name == "ping":
            return {"status": "UP"}
        if name == "ssl":  # no SSL bundle configured: nothing to check
            return {"status": "UP", "details": {"validChains": [], "invalidChains": []}}
        if name == "livenessState" and health_settings.probes_enabled:
            return {"status": "UP"}
        if name == "readinessState" and health_settings.probes_enabled:
            return readiness_component()
        return None

    all_components = ("db", "diskSpace", "livenessState", "ping", "readinessState", "ssl")

    async def health(request: Request) -> Response:
        state.first_request("dispatcherServletRegistration", "Tomcat-1")
        components = {}
        for name in all_components:
            value = await component(name)
            if value is not None:
                components[name] = value
        body: dict[str, Any] = {"status": _aggregate([c["status"] for c in components.values()])}
        if health_settings.probes_enabled:
            body["groups"] = ["liveness", "readiness"]
        body["components"] = components
        return _health_response(body)

    def group(default: str, include: tuple[str, ...] | None) -> Callable[[Request], Any]:
        """A probe group: only its default state indicator unless `include` is configured; a configured
        group shows its components (with the endpoint's show-details), the built-in one only its status."""
        async def endpoint(request: Request) -> Response:
            state.first_request("dispatcherServletRegistration", "Tomcat-1")
            if not health_settings.probes_enabled:
                return error(request, 404, "No static resource " + request.url.path.lstrip("/") + ".")
            names = include if include is not None else (default,)
            components = {}
            for name in names:
                value = await component(name)
                if value is not None:
                    components[name] = value
            body: dict[str, Any] = {"status": _aggregate([c["status"] for c in components.values()])}
            if include is not None:
                body["components"] = components
            return _health_response(body)
        return endpoint

    async def one_component(request: Request) -> Response:
        state.first_request("dispatcherServletRegistration", "Tomcat-1")
        value = await component(request.path_params["name"])
        if value is None:
            return error(request, 404, "No static resource " + request.url.path.lstrip("/") + ".")
        return _health_response(value)

    async def info(request: Request) -> Response:
        state.first_request("dispatcherServletRegistration", "Tomcat-1")
        return JSONResponse({
            "app": {"name": state.app_name, "version": state.model.release},
            "build": {"artifact": "rhdemo", "name": state.app_name, "version": state.model.release},
            "model": {"version": state.model.release, "table": TABLE,
                      "columns": [c.name for c in state.model.columns],
                      "migrations": list(state.model.migrations)},
            **state.extra_info,
        }, media_type=ACTUATOR_JSON)

    async def flyway_endpoint(request: Request) -> Response:
        state.first_request("dispatcherServletRegistration", "Tomcat-1")
        if not state.flyway_enabled:
            return error(request, 404, "No static resource actuator/flyway.")
        try:
            async with state.pool.connection() as conn:
                migrations = await _flyway_info(conn, state.resolved)
        except (psycopg.OperationalError, ConnectionNotAvailable):
            # No connection. Any other failure (a history table altered by hand) goes to last_resort: logged.
            return error(request, 500, "Failed to obtain JDBC Connection")
        return JSONResponse({"contexts": {state.app_name: {"flywayBeans": {"flyway": {"migrations": migrations}}}}},
                            media_type=ACTUATOR_JSON)

    async def links(request: Request) -> Response:
        state.first_request("dispatcherServletRegistration", "Tomcat-1")
        base = f"{request.url.scheme}://{request.url.netloc}/actuator"
        names = ["health", "health-path", "info"] + (["flyway"] if state.flyway_enabled else [])
        body = {"_links": {"self": {"href": base, "templated": False}}}
        for name in names:
            href = f"{base}/health/{{*path}}" if name == "health-path" else f"{base}/{name}"
            body["_links"][name] = {"href": href, "templated": name == "health-path"}
        return JSONResponse(body, media_type=ACTUATOR_JSON)

    async def not_found(request: Request, exc: Exception) -> Response:
        state.first_request("dispatcherServletRegistration", "Tomcat-1")
        return error(request, 404, "No static resource " + request.url.path.lstrip("/") + ".")

    async def last_resort(request: Request, exc: Exception) -> Response:
        return unexpected_error(request, exc, MANAGEMENT_SERVLET)

    return Starlette(routes=[
        Route("/actuator", links),
        Route("/actuator/health", health),
        Route("/actuator/health/liveness", group("livenessState", health_settings.liveness_include)),
        Route("/actuator/health/readiness", group("readinessState", health_settings.readiness_include)),
        Route("/actuator/health/{name}", one_component),
        Route("/actuator/info", info),
        Route("/actuator/flyway", flyway_endpoint),
    ], exception_handlers={404: not_found, Exception: last_resort})


async def _flyway_info(conn: Any, resolved: Sequence[flyway.ResolvedMigration]) -> list[dict[str, Any]]:
    """The history read through the async pool, described by flyway.describe()."""
    schema_row = await (await conn.execute("SELECT current_schema()")).fetchone()
    schema = schema_row[0]
    exists_row = await (await conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                                           (f'"{schema}"."{flyway.HISTORY_TABLE}"',))).fetchone()
    rows = []
    if exists_row and exists_row[0]:
        rows = await (await conn.execute(sql.SQL(
            "SELECT installed_rank, version, description, type, script, checksum, installed_by, installed_on, "
            "execution_time, success FROM {} ORDER BY installed_rank").format(
                sql.Identifier(schema, flyway.HISTORY_TABLE)))).fetchall()
    history = [flyway.AppliedMigration(*row) for row in rows]
    return flyway.describe(history, resolved)
