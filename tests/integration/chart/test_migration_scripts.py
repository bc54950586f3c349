"""Solutions 2A, 2B and 3: the migration scripts taken from the rendered chart, run against a real
PostgreSQL server (sql-job: idempotent, atomic per migration, safe when two runs start at once)."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.chart.chartlib import REPO, Helm, container, find, render, shell_script
from tests.integration.chart.scriptrun import BASE_ENV, container_env, run_script
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration

V2_TELEPHONE = ("ALTER TABLE employes ADD COLUMN IF NOT EXISTS telephone VARCHAR(20);\n"
                "CREATE INDEX IF NOT EXISTS idx_employes_telephone ON employes(telephone);\n")


def _values(db: dict[str, str], mode: str, files: dict[str, str] | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "migrations.mode": mode,
        "postgresql-rhdemo.database.host": db["host"],
        "postgresql-rhdemo.service.port": int(db["port"]),
        "postgresql-rhdemo.database.name": db["name"],
        "postgresql-rhdemo.database.user": db["user"],
    }
    if files is not None:
        values["migrations.files"] = files
    return values


DEFAULT_V1 = "V1__initial_schema.sql"


def _only(files: dict[str, str]) -> dict[str, str | None]:
    """Helm merges a values map into the default one: null removes the chart's V1."""
    return {DEFAULT_V1: None, **files}


class SqlJob:
    """The schema-migration Job of one render: its script, env and the schema-migrations ConfigMap
    written where the pod would mount it."""

    def __init__(self, helm: Helm, db: dict[str, str], tmp_path: Path, files: Any = None) -> None:
        """`files` is merged into migrations.files (the chart's V1), like `--set` or `-f` would."""
        docs = render(helm, _values(db, "sql-job", files))
        job = find(docs, "Job", "schema-migration-1")
        self.migrations_dir = tmp_path / f"migrations-{len(list(tmp_path.iterdir()))}"
        self.migrations_dir.mkdir()
        for name, content in find(docs, "ConfigMap", "schema-migrations")["data"].items():
            (self.migrations_dir / name).write_text(content)
        migrate = container(job, "migrate")
        self.script = shell_script(migrate)
        self.env = container_env(migrate, {("rhdemo-db-secret", "password"): db["password"]},
                                 {"MIGRATIONS_DIR": str(self.migrations_dir)})
        self.wait = container(job, "wait-for-db")
        self.wait_env = container_env(self.wait, {("rhdemo-db-secret", "password"): db["password"]})

    def run(self) -> subprocess.CompletedProcess[str]:
        return run_script(self.script, self.env)


def _query(server: PgServer, dbname: str, sql: str) -> list[tuple[Any, ...]]:
    with server.admin(dbname) as conn:
        return conn.execute(sql).fetchall()


def _tables(server: PgServer, dbname: str) -> set[str]:
    return {r[0] for r in _query(server, dbname, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def _columns(server: PgServer, dbname: str, table: str) -> list[str]:
    return [r[0] for r in _query(server, dbname, "SELECT column_name FROM information_schema.columns "
                                 f"WHERE table_name = '{table}' ORDER BY ordinal_position")]


def _history(server: PgServer, dbname: str) -> list[tuple[str, Any]]:
    return [(r[0], r[1]) for r in _query(server, dbname, "SELECT version, applied_at FROM schema_migrations ORDER BY version")]


def test_sql_job_applies_v1_then_nothing_then_a_new_v2(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path) -> None:
    db = pg_database
    job = SqlJob(helm3, db, tmp_path)
    waited = run_script(shell_script(job.wait), job.wait_env, timeout=30)  # robust: waits for a login
    assert waited.returncode == 0, waited.stdout

    first = job.run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.splitlines() == [
        "📊 Application des migrations de schéma...",
        "▶️  Application de la migration V1__initial_schema",
        "✅ Migration V1__initial_schema appliquée",
        "✅ Toutes les migrations sont appliquées",
    ]
    assert first.stderr == ""
    assert {"employes", "schema_migrations"} <= _tables(pg_server, db["name"])
    assert _columns(pg_server, db["name"], "employes") == ["id", "prenom", "nom", "mail", "adresse"]
    history = _history(pg_server, db["name"])

    second = job.run()
    assert second.returncode == 0, second.stderr
    assert "⏭️  Migration V1__initial_schema déjà appliquée" in second.stdout
    assert "▶️" not in second.stdout
    assert _history(pg_server, db["name"]) == history  # same rows, same applied_at

    with_v2 = SqlJob(helm3, db, tmp_path, files={"V2__add_phone_column.sql": V2_TELEPHONE}).run()
    assert with_v2.returncode == 0, with_v2.stderr
    assert "⏭️  Migration V1__initial_schema déjà appliquée" in with_v2.stdout
    assert "✅ Migration V2__add_phone_column appliquée" in with_v2.stdout
    assert _columns(pg_server, db["name"], "employes")[-1] == "telephone"
    assert [v for v, _ in _history(pg_server, db["name"])] == ["V1__initial_schema", "V2__add_phone_column"]


def test_sql_job_failing_migration_changes_nothing(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path) -> None:
    db = pg_database
    assert SqlJob(helm3, db, tmp_path).run().returncode == 0
    history = _history(pg_server, db["name"])
    # The first statement succeeds, the second fails: the whole migration must be undone.
    failing = {"V2__add_phone_then_fail.sql": V2_TELEPHONE + "SELECT 1 / 0;\n"}
    result = SqlJob(helm3, db, tmp_path, files=failing).run()
    assert result.returncode == 1
    assert "division by zero" in result.stderr
    assert ("❌ Migration V2__add_phone_then_fail en échec : sa transaction est annulée "
            "(schéma et schema_migrations inchangés)") in result.stdout
    assert "telephone" not in _columns(pg_server, db["name"], "employes")
    assert _history(pg_server, db["name"]) == history


def test_sql_job_failing_first_migration_leaves_an_empty_database(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path) -> None:
    db = pg_database
    files = {"V1__broken.sql": "CREATE TABLE employes (id BIGSERIAL PRIMARY KEY);\nCREATE TABLE oops (;\n"}
    result = SqlJob(helm3, db, tmp_path, files=_only(files)).run()
    assert result.returncode == 1
    assert _tables(pg_server, db["name"]) == set()  # not even schema_migrations


def test_sql_job_orders_versions_numerically(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path) -> None:
    db = pg_database
    files = {f"V{v}__step.sql": f"INSERT INTO steps VALUES ({v});\n" for v in (2, 10, 3)}
    files["V1__steps.sql"] = "CREATE TABLE steps (v INT, at TIMESTAMP DEFAULT clock_timestamp());\n"
    result = SqlJob(helm3, db, tmp_path, files=_only(files)).run()
    assert result.returncode == 0, result.stderr
    assert [r[0] for r in _query(pg_server, db["name"], "SELECT v FROM steps ORDER BY at")] == [2, 3, 10]


def test_sql_job_two_runs_at_once_apply_each_migration_once(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path) -> None:
    db = pg_database
    # Not idempotent on purpose (no IF NOT EXISTS), and slow enough for the runs to overlap.
    files = {"V1__slow_create.sql": "SELECT pg_sleep(1);\nCREATE TABLE applied_once (id INT);\n",
             "V2__insert.sql": "INSERT INTO applied_once VALUES (2);\n"}
    job = SqlJob(helm3, db, tmp_path, files=_only(files))
    results: list[subprocess.CompletedProcess[str]] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(job.run())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    output = "".join(r.stdout for r in results)
    for version in ("V1__slow_create", "V2__insert"):
        assert output.count(f"✅ Migration {version} appliquée") == 1, output
        assert output.count(f"⏭️  Migration {version} déjà appliquée") == 1, output
    assert _query(pg_server, db["name"], "SELECT id FROM applied_once") == [(2,)]
    assert [v for v, _ in _history(pg_server, db["name"])] == ["V1__slow_create", "V2__insert"]


def test_init_container_creates_the_schema_once(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str]) -> None:
    db = pg_database
    docs = render(helm3, _values(db, "init-container"))
    init = container(find(docs, "Deployment", "rhdemo-app"), "init-schema")
    env = container_env(init, {("rhdemo-db-secret", "password"): db["password"]})
    first = run_script(shell_script(init), env)
    assert first.returncode == 0, first.stderr
    assert "⚠️  Le schéma n'existe pas - création en cours..." in first.stdout
    assert "✅ Schéma créé avec succès" in first.stdout
    assert _columns(pg_server, db["name"], "employes") == ["id", "prenom", "nom", "mail", "adresse"]
    second = run_script(shell_script(init), env)
    assert second.returncode == 0
    assert "✅ Le schéma existe déjà" in second.stdout


def _flyway_launcher() -> Path:
    """The real Flyway CLI (Maven Central) through .ci/lib/install-flyway.sh (cached)."""
    result = subprocess.run(["bash", str(REPO / ".ci" / "lib" / "install-flyway.sh")], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"Flyway CLI unavailable (bash .ci/lib/install-flyway.sh):\n{result.stderr[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def test_flyway_job_migrates_with_the_real_flyway_cli(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path) -> None:
    db = pg_database
    launcher = _flyway_launcher()
    files_v2 = {"V2__add_phone_column.sql": V2_TELEPHONE}
    default_files = find(render(helm3, _values(db, "flyway-job")), "ConfigMap", "flyway-migrations")["data"]
    for round_files in (default_files, {**default_files, **files_v2}):
        docs = render(helm3, _values(db, "flyway-job", round_files))
        sql_dir = tmp_path / f"flyway-sql-{len(round_files)}"
        sql_dir.mkdir()
        for name, content in find(docs, "ConfigMap", "flyway-migrations")["data"].items():
            (sql_dir / name).write_text(content)
        flyway = container(find(docs, "Job", "flyway-migration-1"), "flyway")
        assert flyway["command"] == ["flyway", "migrate"]
        env = container_env(flyway, {("rhdemo-db-secret", "password"): db["password"]},
                            {"FLYWAY_LOCATIONS": f"filesystem:{sql_dir}",
                             "PATH": f"{launcher.parent}:{BASE_ENV['PATH']}",
                             "JAVA_HOME": os.environ.get("JAVA_HOME", "")})
        env = {k: v for k, v in env.items() if v}
        result = subprocess.run(flyway["command"], env=env, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        assert db["password"] not in result.stdout + result.stderr
    assert _columns(pg_server, db["name"], "employes")[-1] == "telephone"
    rows = _query(pg_server, db["name"], "SELECT version, success FROM flyway_schema_history ORDER BY installed_rank")
    assert rows == [("1", True), ("2", True)]


def _wait_for_schema(docs: list[dict[str, Any]], db: dict[str, str]) -> tuple[str, dict[str, str]]:
    wait = container(find(docs, "Deployment", "rhdemo-app"), "wait-for-schema")
    env = container_env(wait, {("rhdemo-db-secret", "password"): db["password"]}, {"WAIT_INTERVAL_SECONDS": "1"})
    return shell_script(wait), env


def _still_waiting(script: str, env: dict[str, str], seconds: float = 3) -> str:
    try:
        result = run_script(script, env, timeout=seconds)
    except subprocess.TimeoutExpired as waiting:
        out = waiting.stdout or b""
        return out.decode() if isinstance(out, bytes) else out
    raise AssertionError(f"wait-for-schema returned early: {result.stdout}{result.stderr}")


def test_app_waits_for_the_sql_job_to_record_every_version(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path) -> None:
    db = pg_database
    files = {"V2__add_phone_column.sql": V2_TELEPHONE}
    docs = render(helm3, _values(db, "sql-job", files))
    script, env = _wait_for_schema(docs, db)
    assert env["EXPECTED_VERSIONS"].split() == ["V1__initial_schema", "V2__add_phone_column"]
    assert "Migrations pas encore appliquées" in _still_waiting(script, env)  # no table yet
    assert SqlJob(helm3, db, tmp_path, files=_only({"V1__initial_schema.sql": find(
        docs, "ConfigMap", "schema-migrations")["data"]["V1__initial_schema.sql"]})).run().returncode == 0
    assert "(1)" in _still_waiting(script, env)  # V1 only: still waiting for V2
    assert SqlJob(helm3, db, tmp_path, files=files).run().returncode == 0
    done = run_script(script, env, timeout=20)
    assert done.returncode == 0 and "✅ Schéma migré (2/2 migrations appliquées)" in done.stdout


def test_app_waits_for_the_flyway_job(
        helm3: Helm, pg_server: PgServer, pg_database: dict[str, str], tmp_path: Path) -> None:
    db = pg_database
    launcher = _flyway_launcher()
    docs = render(helm3, _values(db, "flyway-job"))
    script, env = _wait_for_schema(docs, db)
    assert env["EXPECTED_VERSIONS"] == "1"
    _still_waiting(script, env)
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    for name, content in find(docs, "ConfigMap", "flyway-migrations")["data"].items():
        (sql_dir / name).write_text(content)
    flyway = container(find(docs, "Job", "flyway-migration-1"), "flyway")
    flyway_env = container_env(flyway, {("rhdemo-db-secret", "password"): db["password"]},
                               {"FLYWAY_LOCATIONS": f"filesystem:{sql_dir}", "PATH": f"{launcher.parent}:{BASE_ENV['PATH']}"})
    migrated = subprocess.run(flyway["command"], env=flyway_env, capture_output=True, text=True, timeout=180)
    assert migrated.returncode == 0, migrated.stderr
    done = run_script(script, env, timeout=20)
    assert done.returncode == 0 and "✅ Schéma migré (1/1 migrations appliquées)" in done.stdout
