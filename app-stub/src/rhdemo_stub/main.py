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
from rhdemo_stub import config, flyway, logs, model, web
from rhdemo_stub.pool import ConnectionNotAvailable, HikariPool, pgjdbc_sqlstate
from rhdemo_stub.jdbc import JdbcUrl, JdbcUrlError, parse_jdbc_url

_RUN_STARTED = time.monotonic()  # reset when run() starts, like SpringApplication.run()
MAIN_CLASS = "RhdemoApplication"
# The versions Spring Boot 3.5.16 brings (the reference app, tests/conformance).
HIBERNATE_VERSION = "6.6.53.Final"
TOMCAT_VERSION = "10.1.55"
_CONTEXT = "org.springframework.boot.web.servlet.context.AnnotationConfigServletWebServerApplicationContext"
_DIALECT = ("Unable to determine Dialect without JDBC metadata (please set 'jakarta.persistence.jdbc.url' for "
            "common cases or 'hibernate.dialect' when a custom Dialect implementation must be provided)")
_JDBC_ENVIRONMENT = "Unable to create requested service [org.hibernate.engine.jdbc.env.spi.JdbcEnvironment] due to: "


@dataclass
class StartupFailure(Exception):
    """A failed context refresh: the exception chain down to the root cause (outermost first), and whether
    the pool had started (then Spring closes it: Hikari's shutdown lines follow the refresh failure)."""

    chain: list[tuple[str, str]]   # (java exception class, message)
    pool_started: bool = False


def _hikari_log(level: str, message: str, thread: str = "main") -> None:
    logs.log(level, "com.zaxxer.hikari.HikariDataSource", message, thread)


def _connection_failure(exc: psycopg.Error, url: JdbcUrl, user: str) -> tuple[str, str]:
    """pgjdbc's exception for a failed login, carrying PostgreSQL's own text when the server answered."""
    text = str(exc).strip()
    server = re.search(r"(FATAL|ERROR|PANIC):\s+(.*)", text)
    if server:  # pgjdbc: one space after the severity (libpq prints two)
        return "org.postgresql.util.PSQLException", f"{server.group(1)}: {server.group(2).strip()}"
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


def flyway_sql_message(title: str, sqlstate: str, message: str) -> str:
    """FlywaySqlException's message: the title underlined, then the SQL state block."""
    return f"{title}\n{'-' * len(title)}\nSQL State  : {sqlstate}\nError Code : 0\nMessage    : {message}\n"


def _open_datasource(url: JdbcUrl, settings: config.AppSettings) -> psycopg.Connection:
    """The first connection, opened by whoever needs it first: Flyway (on) or Hibernate (off)."""
    _hikari_log("INFO", "HikariPool-1 - Starting...")
    try:
        conninfo = psycopg.conninfo.make_conninfo(
            **url.conninfo_kwargs(settings.datasource_username, settings.datasource_password))
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=max(
            1, settings.hikari_connection_timeout_ms // 1000))
    except psycopg.Error as exc:
        root = _connection_failure(exc, url, settings.datasource_username)
        if settings.flyway_enabled:
            message = flyway_sql_message(f"Unable to obtain connection from database: {root[1]}",
                                         pgjdbc_sqlstate(exc), root[1])
            raise StartupFailure(_flyway_chain("org.flywaydb.core.internal.exception.FlywaySqlException", message)
                                 + [root]) from None
        # Hibernate asks for the JDBC metadata first, logs the SQL error, then cannot pick a dialect.
        logs.log("WARN", "org.hibernate.engine.jdbc.spi.SqlExceptionHelper",
                 f"SQL Error: 0, SQLState: {pgjdbc_sqlstate(exc)}")
        logs.log("ERROR", "org.hibernate.engine.jdbc.spi.SqlExceptionHelper", root[1])
        logs.log("WARN", "org.hibernate.engine.jdbc.env.internal.JdbcEnvironmentInitiator",
                 "HHH000342: Could not obtain connection to query metadata")
        logs.raw(f"\norg.hibernate.exception.GenericJDBCException: unable to obtain isolated JDBC connection "
                 f"[{root[1]}] [n/a]\n\tat org.hibernate.exception.internal.SQLStateConversionDelegate.convert"
                 f"(SQLStateConversionDelegate.java:100)\nCaused by: {root[0]}: {root[1]}\n"
                 "\t... 42 common frames omitted\n")
        logs.log("ERROR", "o.s.orm.jpa.LocalContainerEntityManagerFactoryBean",
                 f"Failed to initialize JPA EntityManagerFactory: {_JDBC_ENVIRONMENT}{_DIALECT}")
        raise StartupFailure([
            ("org.springframework.beans.factory.BeanCreationException",
             f"Error creating bean with name {_JPA_BEAN}: {_JDBC_ENVIRONMENT}{_DIALECT}"),
            ("org.hibernate.service.spi.ServiceException", f"{_JDBC_ENVIRONMENT}{_DIALECT}"),
            ("org.hibernate.HibernateException", _DIALECT)]) from None
    logs.log("INFO", "com.zaxxer.hikari.pool.HikariPool",
             f"HikariPool-1 - Added connection org.postgresql.jdbc.PgConnection@{id(conn) & 0xFFFFFFF:x}")
    _hikari_log("INFO", "HikariPool-1 - Start completed.")
    return conn


_FLYWAY_BEAN = ("'flywayInitializer' defined in class path resource "
                "[org/springframework/boot/autoconfigure/flyway/FlywayAutoConfiguration$FlywayConfiguration.class]")
_JPA_BEAN = ("'entityManagerFactory' defined in class path resource "
             "[org/springframework/boot/autoconfigure/orm/jpa/HibernateJpaConfiguration.class]")


def _flyway_chain(java_class: str, message: str) -> list[tuple[str, str]]:
    """Hibernate's factory depends on Flyway: Spring reports the entityManagerFactory bean wrapping Flyway's."""
    return [("org.springframework.beans.factory.BeanCreationException",
             f"Error creating bean with name {_JPA_BEAN}: Failed to initialize dependency 'flywayInitializer' of "
             f"LoadTimeWeaverAware bean 'entityManagerFactory': Error creating bean with name {_FLYWAY_BEAN}: "
             f"{message}"),
            ("org.springframework.beans.factory.BeanCreationException",
             f"Error creating bean with name {_FLYWAY_BEAN}: {message}"),
            (java_class, message)]


def _hibernate_start_lines() -> None:
    logs.log("INFO", "o.hibernate.jpa.internal.util.LogHelper", "HHH000204: Processing PersistenceUnitInfo [name: default]")
    logs.log("INFO", "org.hibernate.Version", f"HHH000412: Hibernate ORM core version {HIBERNATE_VERSION}")
    logs.log("INFO", "org.hibernate.cache.internal.RegionFactoryInitiator", "HHH000026: Second-level cache disabled")
    logs.log("INFO", "o.s.orm.jpa.persistenceunit.SpringPersistenceUnitInfo",
             "No LoadTimeWeaver setup: ignoring JPA class transformer")


def _run_flyway(conn: psycopg.Connection, url: JdbcUrl, settings: config.AppSettings, release: model.Model) -> None:
    # Flyway 11 under Spring Boot prints no edition banner and no release-notes line.
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
        raise StartupFailure(_flyway_chain(exc.java_class, str(exc)), pool_started=True) from None
    except psycopg.Error as exc:
        # e.g. no CREATE privilege on the schema for the history table (PostgreSQL 15+ default).
        message = _sql_error(exc)
        raise StartupFailure(_flyway_chain("org.flywaydb.core.internal.exception.FlywaySqlException",
                                           flyway_sql_message("Unable to migrate schema", exc.sqlstate or "", message))
                             + [("org.postgresql.util.PSQLException", message)], pool_started=True) from None


def _sql_error(exc: psycopg.Error) -> str:
    """PostgreSQL's message as pgjdbc shows it: `ERROR: permission denied for schema public`."""
    diag = exc.diag
    if diag.message_primary:
        return f"{diag.severity or 'ERROR'}: {diag.message_primary}"
    return str(exc).strip()


def _run_hibernate(conn: psycopg.Connection, settings: config.AppSettings, release: model.Model) -> None:
    server_version = conn.execute("SHOW server_version").fetchone()[0].split()[0]  # type: ignore[index]
    logs.log("INFO", "org.hibernate.orm.connections.pooling", "HHH10001005: Database info:\n"
             "\tDatabase JDBC URL [Connecting through datasource 'HikariDataSource (HikariPool-1)']\n"
             "\tDatabase driver: undefined/unknown\n"
             f"\tDatabase version: {server_version}\n"
             "\tAutocommit mode: undefined/unknown\n"
             "\tIsolation level: undefined/unknown\n"
             "\tMinimum pool size: undefined/unknown\n"
             "\tMaximum pool size: undefined/unknown")
    logs.log("INFO", "org.hibernate.engine.transaction.jta.platform.internal.JtaPlatformInitiator",
             "HHH000489: No JTA platform available (set 'hibernate.transaction.jta.platform' to enable JTA "
             "platform integration)")
    try:
        model.apply_ddl_auto(conn, release, settings.ddl_auto, logs.log)
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
            raise  # the connection itself was lost
        raise _session_factory_failure("org.hibernate.exception.GenericJDBCException", _sql_error(exc),
                                       [("org.postgresql.util.PSQLException", _sql_error(exc))]) from None
    except model.SchemaManagementError as exc:
        raise _session_factory_failure("org.hibernate.tool.schema.spi.SchemaManagementException", str(exc), [
            ("org.hibernate.tool.schema.spi.SchemaManagementException", str(exc))]) from None
    logs.log("INFO", "j.LocalContainerEntityManagerFactoryBean",
             "Initialized JPA EntityManagerFactory for persistence unit 'default'")


def _session_factory_failure(java_class: str, message: str, causes: list[tuple[str, str]]) -> StartupFailure:
    """Hibernate could not build its SessionFactory: logged by Spring's factory bean, then the refresh fails."""
    text = (f"[PersistenceUnit: default] Unable to build Hibernate SessionFactory; nested exception is "
            f"{java_class}: {message}")
    logs.log("ERROR", "o.s.orm.jpa.LocalContainerEntityManagerFactoryBean",
             f"Failed to initialize JPA EntityManagerFactory: {text}")
    return StartupFailure([("org.springframework.beans.factory.BeanCreationException",
                            f"Error creating bean with name {_JPA_BEAN}: {text}"),
                           ("jakarta.persistence.PersistenceException", text), *causes], pool_started=True)


def _elapsed_ms() -> int:
    return int((time.monotonic() - _RUN_STARTED) * 1000)


def _tomcat_initialized(port: int, engine: str) -> None:
    logs.log("INFO", "o.s.b.w.embedded.tomcat.TomcatWebServer", f"Tomcat initialized with port {port} (http)")
    logs.log("INFO", "o.apache.catalina.core.StandardService", "Starting service [Tomcat]")
    logs.log("INFO", "o.apache.catalina.core.StandardEngine", f"Starting Servlet engine: [Apache Tomcat/{TOMCAT_VERSION}]")
    logs.log("INFO", f"o.a.c.c.C.[{engine}].[localhost].[/]", "Initializing Spring embedded WebApplicationContext")


def _report_failure(failure: StartupFailure) -> None:
    top_class, top_message = failure.chain[0]
    logs.log("WARN", _CONTEXT, "Exception encountered during context initialization - cancelling refresh attempt: "
             f"{top_class}: {top_message}")
    if failure.pool_started:
        _hikari_log("INFO", "HikariPool-1 - Shutdown initiated...")
        _hikari_log("INFO", "HikariPool-1 - Shutdown completed.")
    logs.log("INFO", "o.apache.catalina.core.StandardService", "Stopping service [Tomcat]")
    logs.log("INFO", ".s.b.a.l.ConditionEvaluationReportLogger",
             "\n\nError starting ApplicationContext. To display the condition evaluation report re-run your "
             "application with 'debug' enabled.")
    logs.log("ERROR", "o.s.boot.SpringApplication", "Application run failed")
    lines = [f"{top_class}: {top_message}", "\tat org.springframework.boot.SpringApplication.run(SpringApplication.java:335)"]
    for cls, message in failure.chain[1:]:
        lines.append(f"Caused by: {cls}: {message}")
        lines.append("\t... 20 common frames omitted")
    # Spring Boot logs the failure, then the JVM prints nothing more; the stub adds no traceback.
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
    host, port = url.hosts[0]
    pool = HikariPool(psycopg.conninfo.make_conninfo(
        **url.conninfo_kwargs(settings.datasource_username, settings.datasource_password)),
        address=f"{host}:{port}", connection_timeout_ms=settings.hikari_connection_timeout_ms)
    state = web.AppState(model=release, pool=pool, app_name=settings.application_name,
                         flyway_enabled=settings.flyway_enabled, resolved=resolved,
                         health=web.HealthSettings(probes_enabled=settings.probes_enabled,
                                                   liveness_include=settings.liveness_include,
                                                   readiness_include=settings.readiness_include))
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
    # Installed before anything is served: a SIGTERM right after `Started` is a graceful shutdown too.
    # Installed before anything is served: a SIGTERM right after `Started` is a graceful shutdown too.
    signalled: list[int] = []

    def on_signal(signum: int) -> None:
        signalled.append(signum)
        if state.ready:
            state.ready = False
            for _ in servers:  # one per web server, like Tomcat's GracefulShutdown of each context
                logs.log("INFO", "o.s.b.w.e.tomcat.GracefulShutdown",
                         "Commencing graceful shutdown. Waiting for active requests to complete", "ionShutdownHook")
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in zip(servers, sockets, strict=True)]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            break
        await asyncio.sleep(0.005)
    logs.log("INFO", "o.s.b.w.embedded.tomcat.TomcatWebServer",
             f"Tomcat started on port {sockets[0].getsockname()[1]} (http) with context path '/'")
    management_started = time.monotonic()
    _tomcat_initialized(sockets[1].getsockname()[1], "Tomcat-1")
    logs.log("INFO", "o.s.b.w.servlet.context.ServletWebServerApplicationContext",
             f"Root WebApplicationContext: initialization completed in {int((time.monotonic() - management_started) * 1000)} ms")
    # health, info, and flyway when Flyway is on
    logs.log("INFO", "o.s.b.a.e.web.EndpointLinksResolver",
             f"Exposing {3 if settings.flyway_enabled else 2} endpoints beneath base path '/actuator'")
    logs.log("INFO", "o.s.b.w.embedded.tomcat.TomcatWebServer",
             f"Tomcat started on port {sockets[1].getsockname()[1]} (http) with context path '/'")
    state.ready = True
    elapsed = time.monotonic() - _RUN_STARTED
    logs.log("INFO", f"fr.leuwen.rhdemoAPI.{MAIN_CLASS}",
             f"Started {MAIN_CLASS} in {elapsed:.3f} seconds (process running for {_process_uptime(elapsed):.3f})")

    await asyncio.gather(*tasks, return_exceptions=True)
    for _ in servers:
        logs.log("INFO", "o.s.b.w.e.tomcat.GracefulShutdown", "Graceful shutdown complete", "tomcat-shutdown")
    logs.log("INFO", "o.s.orm.jpa.LocalContainerEntityManagerFactoryBean",
             "Closing JPA EntityManagerFactory for persistence unit 'default'", "ionShutdownHook")
    if settings.ddl_auto == "create-drop":
        try:
            async with pool.connection(5000) as conn:
                await conn.execute(model.drop_table_sql())  # type: ignore[arg-type]
        except (psycopg.Error, ConnectionNotAvailable) as exc:
            logs.log("WARN", "o.h.t.s.i.ExceptionHandlerLoggedImpl",
                     f'GenerationTarget encountered exception accepting command : Error executing DDL '
                     f'"{model.drop_table_sql()}" via JDBC [{str(exc).strip()}]')
    _hikari_log("INFO", "HikariPool-1 - Shutdown initiated...", "ionShutdownHook")
    await pool.close()
    _hikari_log("INFO", "HikariPool-1 - Shutdown completed.", "ionShutdownHook")
    # The JVM's exit status after its shutdown hooks ran on a signal: 128 + the signal number (143 on SIGTERM).
    return 128 + signalled[0] if signalled else 0


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
             "(rhdemo-stub, imitating Spring Boot 3.5)")
    if settings.profiles:
        names = ", ".join(f'"{p}"' for p in settings.profiles)
        n = len(settings.profiles)
        logs.log("INFO", f"fr.leuwen.rhdemoAPI.{MAIN_CLASS}",
                 f"The following {n} profile{'s are' if n > 1 else ' is'} active: {names}")
    else:
        logs.log("INFO", f"fr.leuwen.rhdemoAPI.{MAIN_CLASS}",
                 'No active profile set, falling back to 1 default profile: "default"')
    logs.log("INFO", "o.s.d.r.config.RepositoryConfigurationDelegate",
             "Bootstrapping Spring Data JPA repositories in DEFAULT mode.")
    logs.log("INFO", "o.s.d.r.config.RepositoryConfigurationDelegate",
             f"Finished Spring Data repository scanning in {_elapsed_ms()} ms. Found 1 JPA repository interface.")
    _tomcat_initialized(settings.server_port, "Tomcat")
    logs.log("INFO", "o.s.b.w.servlet.context.ServletWebServerApplicationContext",
             f"Root WebApplicationContext: initialization completed in {_elapsed_ms()} ms")
    resolved: list[flyway.ResolvedMigration] = []
    try:
        if not settings.flyway_enabled:
            _hibernate_start_lines()
        conn = _open_datasource(url, settings)
        with conn:
            if settings.flyway_enabled:
                _run_flyway(conn, url, settings, release)
                resolved = flyway.resolve(settings.flyway_locations, release.migrations)
                _hibernate_start_lines()
            _run_hibernate(conn, settings, release)
    except StartupFailure as failure:
        _report_failure(failure)
        return 1
    except (psycopg.Error, OSError) as exc:
        root = (_connection_failure(exc, url, settings.datasource_username) if isinstance(exc, psycopg.OperationalError)
                else ("org.postgresql.util.PSQLException", str(exc).strip()))
        _report_failure(StartupFailure([root], pool_started=True))
        return 1
    return asyncio.run(_serve(settings, url, release, resolved))


def main() -> None:
    code = run(sys.argv[1:])
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        # Nobody reads the output any more: drop what is left rather than exit 120 on the final flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)


if __name__ == "__main__":
    main()
