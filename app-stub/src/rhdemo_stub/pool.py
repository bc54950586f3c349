"""HikariCP as the app's users observe it: a borrower waits up to `connection-timeout`
(spring.datasource.hikari.connection-timeout, 30000 ms by default) for a connection, then gets
`Connection is not available, request timed out after …ms (total=…, active=…, idle=…, waiting=…)`
caused by the last failure to connect; an idle connection is validated before it is lent out and
dropped with Hikari's warning when the server closed it; new connections are attempted one at a
time for the whole pool (Hikari's single connection adder), again every few hundred milliseconds
after a failure, so the pool is back within a fraction of a second once the database or the password
is back (no growing back-off), and waiting borrowers never multiply the logins."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from rhdemo_stub import logs

POOL_NAME = "HikariPool-1"
ALIVE_BYPASS_SECONDS = 0.5      # Hikari skips validating a connection used less than 500 ms ago
RETRY_SECONDS = 0.25            # between two attempts to open a connection while a borrower waits
EMPTY_WARNING_SECONDS = 60.0    # Hikari warns "Pool is empty" once connections have failed for a minute


_LOGIN_SQLSTATES = (("password authentication failed", "28P01"), ("does not exist", "3D000"),
                    ("no pg_hba.conf entry", "28000"), ("too many connections", "53300"))


def pgjdbc_sqlstate(exc: psycopg.Error) -> str:
    """The SQL state pgjdbc reports for a failed login (libpq keeps the server's code to itself)."""
    if exc.sqlstate:
        return exc.sqlstate
    text = str(exc)
    if 'role "' in text and ("does not exist" in text or "not permitted to log in" in text):
        return "28000"
    return next((state for needle, state in _LOGIN_SQLSTATES if needle in text), "08001")


def pgjdbc_exception(exc: BaseException | None, address: str) -> list[str]:
    """pgjdbc's exception for a failed connection: the exception line, then its own cause if any."""
    if exc is None:
        return []
    text = str(exc).strip()
    server = re.search(r"(FATAL|ERROR|PANIC):\s+(.*)", text)
    if server:  # one space after the severity, as pgjdbc prints it (libpq prints two)
        return [f"org.postgresql.util.PSQLException: {server.group(1)}: {server.group(2).splitlines()[0].strip()}"]
    if "Connection refused" in text:
        return [f"org.postgresql.util.PSQLException: Connection to {address} refused. Check that the hostname and "
                "port are correct and that the postmaster is accepting TCP/IP connections.",
                "java.net.ConnectException: Connection refused"]
    return [f"org.postgresql.util.PSQLException: {text.splitlines()[-1] if text else type(exc).__name__}"]


class ConnectionNotAvailable(Exception):
    """java.sql.SQLTransientConnectionException, with the last connection failure as its cause."""

    def __init__(self, message: str, cause: psycopg.Error | None) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass
class _Idle:
    conn: psycopg.AsyncConnection[Any]
    since: float


@dataclass
class HikariPool:
    conninfo: str
    address: str = ""               # host:port, as pgjdbc names the server in its messages
    connection_timeout_ms: int = 30000
    maximum_pool_size: int = 10
    _idle: list[_Idle] = field(default_factory=list)
    _active: int = 0
    _waiting: int = 0
    _closed: bool = False
    _failing_since: float | None = None
    _adding: bool = False           # a connection attempt is under way
    _last_attempt: float = 0.0
    last_failure: psycopg.Error | None = None

    @property
    def total(self) -> int:
        return self._active + len(self._idle)

    def adopt(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._idle.append(_Idle(conn, time.monotonic()))

    async def _open(self, remaining: float) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True,
                                                     connect_timeout=max(1, int(remaining)))

    async def _valid(self, idle: _Idle) -> bool:
        if idle.conn.closed or idle.conn.broken:
            return False
        if time.monotonic() - idle.since < ALIVE_BYPASS_SECONDS:
            return True
        try:
            async with asyncio.timeout(5):
                await idle.conn.execute("SELECT 1")
            return True
        except (psycopg.Error, TimeoutError):
            return False

    async def borrow(self, timeout_ms: int | None = None) -> psycopg.AsyncConnection[Any]:
        timeout_ms = self.connection_timeout_ms if timeout_ms is None else timeout_ms
        started = time.monotonic()
        deadline = started + timeout_ms / 1000
        self._waiting += 1
        try:
            while True:
                while self._idle:
                    idle = self._idle.pop()
                    if await self._valid(idle):
                        self._active += 1
                        return idle.conn
                    logs.log("WARN", "com.zaxxer.hikari.pool.PoolBase",
                             f"{POOL_NAME} - Failed to validate connection {logs.pg_connection(idle.conn)} "
                             "(This connection has been closed.). Possibly consider using a shorter maxLifetime value.",
                             logs.current_thread())
                    await _close_quietly(idle.conn)
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    conn = await self._add_connection(remaining)
                    if conn is not None:
                        self._active += 1
                        return conn
                    if self._idle:
                        continue  # given back (or added) while this borrower waited
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    elapsed = int((time.monotonic() - started) * 1000)
                    raise ConnectionNotAvailable(
                        f"{POOL_NAME} - Connection is not available, request timed out after {elapsed}ms "
                        f"(total={self.total}, active={self._active}, idle={len(self._idle)}, "
                        f"waiting={self._waiting - 1})", self.last_failure)
                await asyncio.sleep(min(RETRY_SECONDS, remaining))
        finally:
            self._waiting -= 1

    async def _add_connection(self, remaining: float) -> psycopg.AsyncConnection[Any] | None:
        """Hikari's connection adder: ONE attempt at a time for the whole pool, the next one no sooner
        than RETRY_SECONDS after a failure, however many borrowers wait (a borrower per attempt would
        send the server a login storm: hundreds a second under load)."""
        if self._adding or self.total >= self.maximum_pool_size:
            return None
        if self.last_failure is not None and time.monotonic() - self._last_attempt < RETRY_SECONDS:
            return None
        self._adding = True
        self._last_attempt = time.monotonic()
        try:
            conn = await self._open(remaining)
        except psycopg.Error as exc:
            self.last_failure = exc
            self._connection_failed(exc)
            return None
        finally:
            self._adding = False
        self.last_failure = None
        self._failing_since = None
        return conn

    def _connection_failed(self, exc: psycopg.Error) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif self.total == 0 and now - self._failing_since > EMPTY_WARNING_SECONDS:
            self._failing_since = None  # re-armed by the next failure: one warning a minute
            logs.log("WARN", "com.zaxxer.hikari.pool.PoolBase",
                     f"{POOL_NAME} - Pool is empty, failed to create/setup connection ({uuid.uuid4()})",
                     f"{POOL_NAME}:connection-adder")
            lines = pgjdbc_exception(exc, self.address)
            trace = [lines[0], "\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl"
                     "(ConnectionFactoryImpl.java:352)"]
            trace += [f"Caused by: {line}\n\t... 14 common frames omitted" for line in lines[1:]]
            logs.raw("\n" + "\n".join(trace) + "\n")

    async def give_back(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._active -= 1
        if self._closed or conn.closed or conn.broken:
            await _close_quietly(conn)
            return
        self._idle.append(_Idle(conn, time.monotonic()))

    @contextlib.asynccontextmanager
    async def connection(self, timeout_ms: int | None = None) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        conn = await self.borrow(timeout_ms)
        try:
            yield conn
        finally:
            await self.give_back(conn)

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            await _close_quietly(self._idle.pop().conn)


async def _close_quietly(conn: psycopg.AsyncConnection[Any]) -> None:
    with contextlib.suppress(psycopg.Error, OSError):
        await conn.close()
