"""Fixtures shared by every test level."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from tests.pgserver import PgServer, start_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL server for the whole session; tests isolate themselves by database.
    (Not under pytest's tmp dir: that is 0700 root and the server runs as `postgres`.)"""
    server = start_server()
    yield server
    server.stop()
    shutil.rmtree(server.datadir.parent, ignore_errors=True)


@pytest.fixture
def pg_database(pg_server: PgServer) -> dict[str, str]:
    """A fresh database owned by a fresh role `rhdemo_<id>` with a known password."""
    user = f"rhdemo_{uuid.uuid4().hex[:8]}"
    password = "initial-Passw0rd"
    name = pg_server.create_database(owner=user, password=password)
    return {"name": name, "user": user, "password": password,
            "host": pg_server.host, "port": str(pg_server.port),
            "jdbc_url": pg_server.jdbc_url(name)}
