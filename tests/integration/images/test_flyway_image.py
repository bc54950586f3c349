"""The registry-free Flyway image runs like flyway/flyway: `flyway migrate` with FLYWAY_* variables
and the SQL under /flyway/sql, against the registry-free postgres image."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.images.dockerctl import (
    Resources,
    docker,
    logs,
    pinned_versions,
    psql_in,
    require_image,
    start_postgres_on_network,
    wait_for_exit,
)

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

VERSIONS = pinned_versions()
FLYWAY_IMAGE = VERSIONS["LOCAL_FLYWAY_IMAGE"]
POSTGRES_IMAGE = VERSIONS["LOCAL_POSTGRES_IMAGE"]
USER, PASSWORD, DATABASE = "rhdemo", "flyway-Passw0rd", "rhdemodb"


@pytest.fixture
def resources() -> Iterator[Resources]:
    require_image(FLYWAY_IMAGE)
    require_image(POSTGRES_IMAGE)
    created = Resources()
    yield created
    created.cleanup()


def run_flyway(resources: Resources, network: str, sql_dir: Path, command: str) -> tuple[int, str]:
    container = resources.run_detached(f"flyway-{command}", FLYWAY_IMAGE, command, options=[
        "--network", network, "-v", f"{sql_dir}:/flyway/sql:ro",
        "-e", f"FLYWAY_URL=jdbc:postgresql://db:5432/{DATABASE}",
        "-e", f"FLYWAY_USER={USER}", "-e", f"FLYWAY_PASSWORD={PASSWORD}"])
    return wait_for_exit(container, timeout=120), logs(container)


def test_version_matches_the_pin() -> None:
    require_image(FLYWAY_IMAGE)
    output = docker("run", "--rm", FLYWAY_IMAGE, "-v").stdout
    assert VERSIONS["FLYWAY_VERSION"] in output


def test_migrate_applies_sql_from_flyway_sql_then_is_up_to_date(resources: Resources, tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "V1__create_employes.sql").write_text(
        "CREATE TABLE employes (id bigserial PRIMARY KEY, nom varchar(100) NOT NULL);\n")
    (sql_dir / "V2__add_telephone.sql").write_text("ALTER TABLE employes ADD COLUMN telephone varchar(20);\n")
    for path in (tmp_path, sql_dir, *sql_dir.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    network = resources.network("net")
    database = start_postgres_on_network(resources, POSTGRES_IMAGE, network, "db", USER, PASSWORD, DATABASE)

    exit_code, output = run_flyway(resources, network, sql_dir, "migrate")
    assert exit_code == 0, output
    assert 'Successfully applied 2 migrations to schema "public", now at version v2' in output
    assert psql_in(database, USER, DATABASE,
                   "SELECT string_agg(version || ':' || script || ':' || success, ',' ORDER BY installed_rank) "
                   "FROM flyway_schema_history") == \
        "1:V1__create_employes.sql:true,2:V2__add_telephone.sql:true"
    assert psql_in(database, USER, DATABASE,
                   "SELECT column_name FROM information_schema.columns "
                   "WHERE table_name = 'employes' AND column_name = 'telephone'") == "telephone"

    exit_code, output = run_flyway(resources, network, sql_dir, "validate")
    assert exit_code == 0, output
    assert "Successfully validated 2 migrations" in output
