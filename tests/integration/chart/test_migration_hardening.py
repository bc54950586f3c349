"""sql-job's checks before it applies anything (issue 12, item 8): no transaction control, no psql
meta-command, Flyway's version order, no out-of-order version. The script taken from the rendered
chart, run against a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.chart.chartlib import Helm
from tests.integration.chart.test_migration_scripts import SqlJob, _history, _only, _query, _tables
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration

V1 = {"V1__create.sql": "CREATE TABLE steps (v TEXT, at TIMESTAMP DEFAULT clock_timestamp());\n"}


@pytest.mark.parametrize(("content", "where", "what"), [
    ("INSERT INTO steps VALUES ('a');\nCOMMIT;\n", ":2 ", "contrôle de transaction (COMMIT)"),
    ("BEGIN;\nINSERT INTO steps VALUES ('a');\n", ":1 ", "contrôle de transaction (BEGIN)"),
    ("INSERT INTO steps VALUES ('a');\n  rollback ;\n", ":2 ", "contrôle de transaction (ROLLBACK)"),
    ("start transaction isolation level serializable;\n", ":1 ", "contrôle de transaction (START TRANSACTION)"),
    ("INSERT INTO steps VALUES ('a'); END;\n", ":1 ", "contrôle de transaction (END)"),
    ("\\! id\n", ":1 ", "méta-commande psql (\\! id)"),
    ("\\set ON_ERROR_STOP off\nSELECT 1/0;\n", ":1 ", "méta-commande psql (\\set ON_)"),
    ("INSERT INTO steps VALUES ('x') \\g /tmp/out\n", ":1 ", "méta-commande psql (\\g /tmp/)"),
    ("\\c postgres\n", ":1 ", "méta-commande psql (\\c postg)"),
], ids=["commit", "begin", "rollback", "start-transaction", "end", "shell", "set", "gset", "connect"])
def test_transaction_control_and_meta_commands_are_refused_before_anything_is_applied(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path,
        content: str, where: str, what: str) -> None:
    db = pg_database
    result = SqlJob(helm3, db, tmp_path, files=_only({**V1, "V2__bad.sql": content})).run()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"❌ V2__bad.sql{where}: {what} interdit dans une migration" in result.stdout, result.stdout
    assert "❌ Aucune migration appliquée" in result.stdout
    assert _tables(pg_server, db["name"]) == set()  # not even V1, nor schema_migrations


def test_what_only_looks_like_transaction_control_is_applied(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path) -> None:
    """BEGIN/END of PL/pgSQL and SQL-standard bodies, words in strings, identifiers and comments,
    backslashes in strings and a savepoint are not what the check is for."""
    v2 = """-- COMMIT; \\! not a command in a comment
/* ROLLBACK; /* nested \\c */ BEGIN; */
DO $$ BEGIN INSERT INTO steps VALUES ('do'); END $$;
CREATE FUNCTION add_step(t TEXT) RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
  INSERT INTO steps VALUES (t);
END;
$body$;
CREATE FUNCTION twice(i INT) RETURNS INT LANGUAGE sql
BEGIN ATOMIC
  SELECT i * 2;
END;
SELECT add_step('BEGIN; COMMIT; \\! id');
INSERT INTO steps VALUES (E'back\\\\slash \\' quote; COMMIT;'), ('it''s; ROLLBACK;');
CREATE TABLE "begin" ("commit" INT);
SAVEPOINT s1;
INSERT INTO steps VALUES ('rolled back');
ROLLBACK TO SAVEPOINT s1;
"""
    db = pg_database
    result = SqlJob(helm3, db, tmp_path, files=_only({**V1, "V2__lookalikes.sql": v2})).run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r[0] for r in _query(pg_server, db["name"], "SELECT v FROM steps ORDER BY at")] == [
        "do", "BEGIN; COMMIT; \\! id", "back\\slash ' quote; COMMIT;", "it's; ROLLBACK;"]
    assert {"begin", "steps", "schema_migrations"} <= _tables(pg_server, db["name"])


def test_versions_sort_like_flyway(helm3: Helm, pg_server: PgServer, pg_database: dict[str, str],
                                   tmp_path: Path) -> None:
    db = pg_database
    files = {f"V{v}__step.sql": f"INSERT INTO steps VALUES ('{v}');\n" for v in ("1_10", "1_2", "1.9", "1_1", "2")}
    result = SqlJob(helm3, db, tmp_path, files=_only({**V1, **files})).run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r[0] for r in _query(pg_server, db["name"], "SELECT v FROM steps ORDER BY at")] == [
        "1_1", "1_2", "1.9", "1_10", "2"]


def test_the_analysis_date_names_sort_by_their_numbers(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path) -> None:
    db = pg_database
    files = {"20251218-0001-create.sql": V1["V1__create.sql"],
             "20251220-1000-second.sql": "INSERT INTO steps VALUES ('second');\n",
             "20251220-900-first.sql": "INSERT INTO steps VALUES ('first');\n"}
    result = SqlJob(helm3, db, tmp_path, files=_only(files)).run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r[0] for r in _query(pg_server, db["name"], "SELECT v FROM steps ORDER BY at")] == ["first", "second"]


def test_an_out_of_order_version_is_refused(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path) -> None:
    db = pg_database
    v3 = {"V3__three.sql": "INSERT INTO steps VALUES ('3');\n"}
    assert SqlJob(helm3, db, tmp_path, files=_only({**V1, **v3})).run().returncode == 0
    history = _history(pg_server, db["name"])
    late = {"V2__late.sql": "INSERT INTO steps VALUES ('2');\n", "V4__four.sql": "INSERT INTO steps VALUES ('4');\n"}
    result = SqlJob(helm3, db, tmp_path, files=_only({**V1, **v3, **late})).run()
    assert result.returncode == 1
    assert "migration V2__late hors ordre : V3__three (plus récente) est déjà appliquée" in result.stderr
    assert "❌ Migration V2__late en échec" in result.stdout
    assert _history(pg_server, db["name"]) == history  # neither V2 nor V4
    assert [r[0] for r in _query(pg_server, db["name"], "SELECT v FROM steps")] == ["3"]


@pytest.mark.parametrize(("files", "message"), [
    ({"add_column.sql": "SELECT 1;\n"}, "❌ add_column.sql : pas de version dans le nom"),
    ({"V2__a.sql": "SELECT 1;\n", "V2.0__b.sql": "SELECT 1;\n"}, "❌ Même version pour plusieurs fichiers : V2.0__b.sql V2__a.sql"),
], ids=["no-version", "duplicate"])
def test_names_without_a_single_version_are_refused(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path,
        files: dict[str, str], message: str) -> None:
    db = pg_database
    result = SqlJob(helm3, db, tmp_path, files=_only({**V1, **files})).run()
    assert result.returncode == 1
    assert message in result.stdout + result.stderr, result.stdout + result.stderr
    assert _tables(pg_server, db["name"]) == set()
