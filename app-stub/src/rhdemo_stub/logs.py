"""Log lines in Spring Boot 3's console format:
`2025-01-01T10:00:00.123Z  INFO 1 --- [rhdemo] [           main] c.z.h.HikariDataSource                   : ...`"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from datetime import datetime, timezone

_lock = threading.Lock()
APP_NAME = "rhdemo"


def abbreviate(logger: str, width: int = 39) -> str:
    """Logback's %logger{39}: shorten package segments from the left until the name fits."""
    parts = logger.split(".")
    for i in range(len(parts) - 1):
        if len(".".join(parts)) <= width:
            break
        parts[i] = parts[i][:1]
    return ".".join(parts)


def log(level: str, logger: str, message: str, thread: str = "main") -> None:
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    name = abbreviate(logger)[-40:]
    _write(f"{now} {level:>5} {os.getpid()} --- [{APP_NAME}] [{thread[-15:]:>15}] {name:<40} : {message}\n")


def raw(text: str) -> None:
    """Lines printed without the prefix: stack traces, the banner."""
    _write(text if text.endswith("\n") else text + "\n")


def _write(text: str) -> None:
    # Whoever read the output may be gone (a closed pipe): the app still shuts down on SIGTERM.
    with _lock, contextlib.suppress(OSError, ValueError):
        sys.stdout.write(text)
        sys.stdout.flush()


def pg_connection(conn: object) -> str:
    """How Hikari names a pgjdbc connection in its log lines."""
    return f"org.postgresql.jdbc.PgConnection@{id(conn) & 0xFFFFFFF:x}"


def current_thread() -> str:
    """A Tomcat worker's name for lines logged while serving a request."""
    return "nio-exec-1"
