"""The `employes` checksum the scenario engine compares around every step covers only V1's columns."""

from __future__ import annotations

import psycopg
import pytest

from lab.database import employes_stats
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration

V1 = """CREATE TABLE employes (id BIGSERIAL PRIMARY KEY, prenom VARCHAR(250) NOT NULL,
  nom VARCHAR(250) NOT NULL, mail VARCHAR(250) NOT NULL, adresse VARCHAR(500))"""


def test_adding_a_column_keeps_the_checksum_but_changing_v1_data_does_not(
        pg_server: PgServer, pg_database: dict[str, str]) -> None:
    dsn = pg_server.tcp_dsn(pg_database["user"], pg_database["password"], pg_database["name"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(V1)
        conn.execute("INSERT INTO employes (prenom, nom, mail, adresse) VALUES "
                     "('Ada', 'Lovelace', 'ada@example.com', NULL), ('Alan', 'Turing', 'alan@example.com', 'Wilmslow')")
        before = employes_stats(conn)
        conn.execute("ALTER TABLE employes ADD COLUMN telephone VARCHAR(20)")  # the seed's V2
        conn.execute("UPDATE employes SET telephone = '0102030405'")
        after_v2 = employes_stats(conn)
        assert before is not None and after_v2 == before
        conn.execute("UPDATE employes SET adresse = 'Londres' WHERE prenom = 'Ada'")
        changed = employes_stats(conn)
        assert changed is not None and changed.rows == 2 and changed.checksum != before.checksum
