"""`rhdemo-stub`: starts like the rhDemo Spring Boot app (datasource, Flyway, Hibernate schema
management, then both web servers) and fails like it, with the same root-cause text."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import re
import signal
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import uvicorn
from psycopg_pool import AsyncConnectionPool

from rhdemo_stub import config, flyway, logs, model, web
from rhdemo_stub.jdbc import JdbcUrl, JdbcUrlError, parse_jdbc_url

_RUN_STARTED = time.monotonic()  # reset when run() starts, like SpringApplication.run()
MAIN_CLASS = "RhdemoApplication"
HIBERNATE_VERSION = "6.6.4.Final"
_CONTEXT = "o.s.b.w.s.c.ServletWebServerApplicationContext"


@dataclass
class StartupFailure(Exception):
    """A failed context refresh: the bean that failed, then the exception chain down to the root cause."""

    bean: str
    chain: list[tuple[str, str]]   # (java exception class, message), outermost first


def _hikari_log(level: str, message: str) -> None:
    logs.log(level, "com.zaxxer.hikari.HikariDataSource", message)


def _connection_failure(exc: psycopg.Error, url: JdbcUrl, user: str) -> tuple[str, str]:
    """pgjdbc's exception for a failed login, carrying PostgreSQL's own text when the server answered."""
    text = str(exc).strip()
    server = re.search(r"(FATAL|ERROR|PANIC):\s+.*", text, re.DOTALL)
    if server:
        return "org.postgresql.util.PSQLException", server.group(0).strip()
    if "Connection refused" in text:
        host, port = url.hosts[0]
        return ("org.postgresql.util.PSQLException",
                f"Connection to {host}:{port} refused. Check that the hostname and port are correct and that "
                "the postmaster is accepting TCP/IP connections.")
    if "could not translate host name" in text or "Name or service not known" in text:
        return "java.net.UnknownHostException", url.hosts[0][0]
    if "timeout" in text.lower():
        return "org.postgresql.util.PSQLException", "The connection attempt failed."
    return "org.postgresql.util.PSQLException", text.splitlines()[-1] if text else type(exc).__name__


def _open_datasource(url: JdbcUrl, settings: config.AppSettings, bean: str) -> psycopg.Connection:
    _hikari_log("INFO", "HikariPool-1 - Starting...")
    try:
        conninfo = psycopg.conninfo.make_conninfo(
            **url.conninfo_kwargs(settings.datasource_username, settings.datasource_password))
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        root = _connection_failure(exc, url, settings.datasource_username)
        logs.log("ERROR", "com.zaxxer.hikari.pool.HikariPool", "HikariPool-1 - Exception during pool initialization.")
        # Hikari's own stack trace shows the message as pgjdbc formats it ("FATAL: ..." with one space);
        # the Caused-by chain below keeps libpq's rendering of the same server text ("FATAL:  ...").
        pgjdbc_text = re.sub(r"^(FATAL|ERROR|PANIC):\s+", r"\1: ", root[1])
        logs.raw(f"\n{root[0]}: {pgjdbc_text}\n\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl"
                 "(ConnectionFactoryImpl.java:352)\n")
        chain = [("org.springframework.beans.factory.BeanCreationException", f"Error creating bean with name {bean}")]
        if bean.startswith("'flywayInitializer'"):
            chain.append(("org.flywaydb.core.internal.exception.FlywaySqlException",
                          f"Unable to obtain connection from database ({url.display()}) for user "
                          f"'{settings.datasource_username}': {root[1]}"))
        chain.append(root)
        raise StartupFailure(bean, chain) from None
    logs.log("INFO", "com.zaxxer.hikari.pool.HikariPool",
             f"HikariPool-1 - Added connection org.postgresql.jdbc.PgConnection@{id(conn) & 0xFFFFFFF:x}")
    _hikari_log("INFO", "HikariPool-1 - Start completed.")
    return conn


_FLYWAY_BEAN = ("'flywayInitializer' defined in class path resource "
                "[org/springframework/boot/autoconfigure/flyway/FlywayAutoConfiguration$FlywayConfiguration.class]")
_JPA_BEAN = ("'entityManagerFactory' defined in class path resource "
             "[org/springframework/boot/autoconfigure/orm/jpa/HibernateJpaConfiguration.class]")


def _run_flyway(conn: psycopg.Connection, url: JdbcUrl, settings: config.AppSettings, release: model.Model) -> None:
    logs.log("INFO", "o.f.c.internal.license.VersionPrinter",
             f"Flyway OSS Edition {flyway.FLYWAY_VERSION} by Redgate")
    logs.log("INFO", "o.f.c.internal.license.VersionPrinter", "See release notes here: https://rd.gt/416ObMi")
    server_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    logs.log("INFO", "org.flywaydb.core.FlywayExecutor",
             f"Database: {url.display()} (PostgreSQL {'.'.join(server_version.split()[0].split('.')[:2])})")
    try:
        resolved = flyway.resolve(settings.flyway_locations, release.migrations)
        flyway.migrate(conn, resolved, flyway.FlywaySettings(
            baseline_on_migrate=settings.flyway_baseline_on_migrate,
            baseline_version=settings.flyway_baseline_version,
            baseline_description=settings.flyway_baseline_description,
            validate_on_migrate=settings.flyway_validate_on_migrate), logs.log)
    except flyway.FlywayError as exc:
        raise StartupFailure(_FLYWAY_BEAN, [
            ("org.springframework.beans.factory.BeanCreationException",
             f"Error creating bean with name {_FLYWAY_BEAN}: {exc}"),
            (exc.java_class, str(exc))]) from None
    except psycopg.Error as exc:
        # e.g. no CREATE privilege on the schema for the history table (PostgreSQL 15+ default).
        message = _sql_error(exc)
        raise StartupFailure(_FLYWAY_BEAN, [
            ("org.springframework.beans.factory.BeanCreationException",
             f"Error creating bean with name {_FLYWAY_BEAN}: {message}"),
            ("org.flywaydb.core.internal.exception.FlywaySqlException",
             f"Unable to migrate schema\nSQL State  : {exc.sqlstate or ''}\nError Code : 0\nMessage    : {message}"),
            ("org.postgresql.util.PSQLException", message)]) from None


def _sql_error(exc: psycopg.Error) -> str:
    """PostgreSQL's message as pgjdbc shows it: `ERROR: permission denied for schema public`."""
    diag = exc.diag
    if diag.message_primary:
        return f"{diag.severity or 'ERROR'}: {diag.message_primary}"
    return str(exc).strip()


def _run_hibernate(conn: psycopg.Connection, settings: config.AppSettings, release: model.Model) -> None:
    logs.log("INFO", "o.hibernate.jpa.internal.util.LogHelper", "HHH000204: Processing PersistenceUnitInfo [name: default]")
    logs.log("INFO", "org.hibernate.Version", f"HHH000412: Hibernate ORM core version {HIBERNATE_VERSION}")
    try:
        model.apply_ddl_auto(conn, release, settings.ddl_auto, logs.log)
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
            raise  # the connection itself was lost
        message = _sql_error(exc)
        raise StartupFailure(_JPA_BEAN, [
            ("org.springframework.beans.factory.BeanCreationException",
             f"Error creating bean with name {_JPA_BEAN}: [PersistenceUnit: default] Unable to build Hibernate "
             f"SessionFactory; nested exception is org.hibernate.exception.GenericJDBCException: {message}"),
            ("org.postgresql.util.PSQLException", message)]) from None
    except model.SchemaManagementError as exc:
        raise StartupFailure(_JPA_BEAN, [
            ("org.springframework.beans.factory.BeanCreationException",
             f"Error creating bean with name {_JPA_BEAN}: [PersistenceUnit: default] Unable to build Hibernate "
             f"SessionFactory; nested exception is org.hibernate.tool.schema.spi.SchemaManagementException: {exc}"),
            ("jakarta.persistence.PersistenceException",
             f"[PersistenceUnit: default] Unable to build Hibernate SessionFactory; nested exception is "
             f"org.hibernate.tool.schema.spi.SchemaManagementException: {exc}"),
            ("org.hibernate.tool.schema.spi.SchemaManagementException", str(exc))]) from None
    logs.log("INFO", "j.LocalContainerEntityManagerFactoryBean",
             "Initialized JPA EntityManagerFactory for persistence unit 'default'")


def _report_failure(failure: StartupFailure) -> None:
    top_class, top_message = failure.chain[0]
    logs.log("WARN", _CONTEXT, "Exception encountered during context initialization - cancelling refresh attempt: "
             f"{top_class}: {top_message.splitlines()[0]}")
    logs.log("INFO", "o.apache.catalina.core.StandardService", "Stopping service [Tomcat]")
    logs.log("INFO", ".s.b.a.l.ConditionEvaluationReportLogger",
             "\n\nError starting ApplicationContext. To display the condition evaluation report re-run your "
             "application with 'debug' enabled.")
    logs.log("ERROR", "o.s.boot.SpringApplication", "Application run failed")
    lines = [f"{top_class}: {top_message}", "\tat org.springframework.boot.SpringApplication.run(SpringApplication.java:335)"]
    for cls, message in failure.chain[1:]:
        lines.append(f"Caused by: {cls}: {message}")
        lines.append("\t... 20 common frames omitted")
    logs.raw("\n" + "\n".join(lines) + "\n")


def _application_failed(description: str, action: str) -> None:
    """Spring Boot's FailureAnalyzer block."""
    logs.log("ERROR", "o.s.b.d.LoggingFailureAnalysisReporter", f"""

***************************
APPLICATION FAILED TO START
***************************

Description:

{description}

Action:

{action}
""")


class _Server(uvicorn.Server):
    """Signals are handled once for both servers, by the application."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(address: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP so that asyncio sets TCP_NODELAY on accepted connections (no 40 ms delayed-ACK stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


async def _serve(settings: config.AppSettings, url: JdbcUrl, release: model.Model,
                 resolved: Sequence[flyway.ResolvedMigration]) -> int:
    kwargs = url.conninfo_kwargs(settings.datasource_username, settings.datasource_password)
    pool = AsyncConnectionPool("", kwargs=kwargs, min_size=1, max_size=10, open=False, timeout=30,
                               check=AsyncConnectionPool.check_connection, name="HikariPool-1")
    await pool.open(wait=False)
    state = web.AppState(model=release, pool=pool, app_name=settings.application_name,
                         flyway_enabled=settings.flyway_enabled, resolved=resolved)
    servers: list[_Server] = []
    sockets: list[socket.socket] = []
    for port, app, label in ((settings.server_port, web.api_app(state), "server.port"),
                             (settings.management_port, web.management_app(state), "management.server.port")):
        try:
            sockets.append(_bind(settings.server_address, port))
        except OSError:
            for sock in sockets:
                sock.close()
            await pool.close()
            _application_failed(f"Web server failed to start. Port {port} was already in use.",
                                f"Identify and stop the process that's listening on port {port} or configure "
                                f"this application to listen on another port ({label}).")
            return 1
        servers.append(_Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False,
                                              timeout_graceful_shutdown=int(settings.shutdown_grace_seconds))))
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in zip(servers, sockets, strict=True)]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            break
        await asyncio.sleep(0.005)
    logs.log("INFO", "o.s.b.w.embedded.tomcat.TomcatWebServer",
             f"Tomcat started on port {sockets[0].getsockname()[1]} (http) with context path '/'")
    logs.log("INFO", "o.s.b.a.e.web.EndpointLinksResolver",
             f"Exposing {4 if settings.flyway_enabled else 3} endpoints beneath base path '/actuator'")
    logs.log("INFO", "o.s.b.w.embedded.tomcat.TomcatWebServer",
             f"Tomcat started on port {sockets[1].getsockname()[1]} (http) with context path '/'")
    state.ready = True
    elapsed = time.monotonic() - _RUN_STARTED
    logs.log("INFO", f"fr.leuwen.rhdemoAPI.{MAIN_CLASS}",
             f"Started {MAIN_CLASS} in {elapsed:.3f} seconds (process running for {_process_uptime(elapsed):.3f})")

    def on_signal() -> None:
        if state.ready:
            state.ready = False
            logs.log("INFO", "o.s.b.w.e.tomcat.GracefulShutdown",
                     "Commencing graceful shutdown. Waiting for active requests to complete", "ionShutdownHook")
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await asyncio.gather(*tasks, return_exceptions=True)
    logs.log("INFO", "o.s.b.w.e.tomcat.GracefulShutdown", "Graceful shutdown complete", "tomcat-shutdown")
    if settings.ddl_auto == "create-drop":
        try:
            async with pool.connection(timeout=5) as conn:
                await conn.set_autocommit(True)
                await conn.execute(model.drop_table_sql())  # type: ignore[arg-type]
        except (psycopg.Error, TimeoutError) as exc:
            logs.log("WARN", "o.h.t.s.i.ExceptionHandlerLoggedImpl",
                     f'GenerationTarget encountered exception accepting command : Error executing DDL '
                     f'"{model.drop_table_sql()}" via JDBC [{str(exc).strip()}]')
    _hikari_log("INFO", "HikariPool-1 - Shutdown initiated...")
    await pool.close()
    _hikari_log("INFO", "HikariPool-1 - Shutdown completed.")
    return 0


def _process_uptime(fallback: float) -> float:
    """Seconds since this process started (interpreter start and imports included), like JVM uptime."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started_ticks = int(fields[19])  # field 22 of proc(5), counted after the command name
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - started_ticks / os.sysconf("SC_CLK_TCK"), fallback)
    except (OSError, ValueError, IndexError):
        return fallback


def run(argv: Sequence[str]) -> int:
    global _RUN_STARTED
    _RUN_STARTED = time.monotonic()
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    try:
        release = model.current_model()
        environment = config.load_environment(argv=argv)
        settings = config.bind(environment)
        logs.APP_NAME = settings.application_name
        url = parse_jdbc_url(settings.datasource_url)
    except (config.ConfigError, JdbcUrlError, ValueError) as exc:
        _application_failed(str(exc), "Update your application's configuration.")
        return 1
    logs.log("INFO", f"fr.leuwen.rhdemoAPI.{MAIN_CLASS}",
             f"Starting {MAIN_CLASS} v{release.release} using Python {platform.python_version()} "
             "(rhdemo-stub, imitating Spring Boot 3.4)")
    if settings.profiles:
        names = ", ".join(f'"{p}"' for p in settings.profiles)
        n = len(settings.profiles)
        logs.log("INFO", f"fr.leuwen.rhdemoAPI.{MAIN_CLASS}",
                 f"The following {n} profile{'s are' if n > 1 else ' is'} active: {names}")
    else:
        logs.log("INFO", f"fr.leuwen.rhdemoAPI.{MAIN_CLASS}",
                 'No active profile set, falling back to 1 default profile: "default"')
    logs.log("INFO", "o.s.b.w.embedded.tomcat.TomcatWebServer", f"Tomcat initialized with port {settings.server_port} (http)")
    resolved: list[flyway.ResolvedMigration] = []
    try:
        bean = _FLYWAY_BEAN if settings.flyway_enabled else _JPA_BEAN
        conn = _open_datasource(url, settings, bean)
        with conn:
            if settings.flyway_enabled:
                _run_flyway(conn, url, settings, release)
                resolved = flyway.resolve(settings.flyway_locations, release.migrations)
            _run_hibernate(conn, settings, release)
    except StartupFailure as failure:
        _report_failure(failure)
        return 1
    except psycopg.OperationalError as exc:
        _report_failure(StartupFailure("dataSource", [_connection_failure(exc, url, settings.datasource_username)]))
        return 1
    except (psycopg.Error, OSError) as exc:
        _report_failure(StartupFailure("dataSource", [("org.postgresql.util.PSQLException", str(exc).strip())]))
        return 1
    return asyncio.run(_serve(settings, url, release, resolved))


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
