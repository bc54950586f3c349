"""The registry-free Keycloak image: the real distribution, started like the official image
(kc.sh entrypoint, uid 1000, KC_* variables), on its PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.images.dockerctl import (
    Resources,
    container_ip,
    docker,
    pinned_versions,
    psql_in,
    require_image,
    start_postgres_on_network,
    wait_for_log,
)

pytestmark = [pytest.mark.docker]

VERSIONS = pinned_versions()
KEYCLOAK_IMAGE = VERSIONS["LOCAL_KEYCLOAK_IMAGE"]
POSTGRES_IMAGE = VERSIONS["LOCAL_POSTGRES_IMAGE"]
USER, PASSWORD, DATABASE = "keycloak", "keycloak-Passw0rd", "keycloak"


@pytest.fixture
def resources() -> Iterator[Resources]:
    require_image(KEYCLOAK_IMAGE)
    created = Resources()
    yield created
    created.cleanup()


@pytest.mark.timeout(120)
def test_kc_sh_reports_the_pinned_version_and_runs_as_uid_1000() -> None:
    require_image(KEYCLOAK_IMAGE)
    output = docker("run", "--rm", KEYCLOAK_IMAGE, "--version", timeout=90).stdout
    assert f"Keycloak {VERSIONS['KEYCLOAK_VERSION']}" in output
    assert docker("run", "--rm", "--entrypoint", "id", KEYCLOAK_IMAGE, "-u").stdout.strip() == "1000"


@pytest.mark.timeout(420)
def test_starts_like_the_chart_runs_it_on_the_postgres_image(resources: Resources) -> None:
    """`start` (production mode) with the chart's KC_* variables and security context."""
    require_image(POSTGRES_IMAGE)
    network = resources.network("net")
    database = start_postgres_on_network(resources, POSTGRES_IMAGE, network, "keycloak-db", USER, PASSWORD,
                                         DATABASE)
    keycloak = resources.run_detached("keycloak", KEYCLOAK_IMAGE, "start", options=[
        "--network", network, "--user", "1000:0", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "--memory", "1536m",
        "-e", "KC_DB=postgres", "-e", f"KC_DB_URL=jdbc:postgresql://keycloak-db:5432/{DATABASE}",
        "-e", f"KC_DB_USERNAME={USER}", "-e", f"KC_DB_PASSWORD={PASSWORD}",
        "-e", "KC_HTTP_ENABLED=true", "-e", "KC_HOSTNAME_STRICT=false", "-e", "KC_HEALTH_ENABLED=true",
        "-e", "KC_BOOTSTRAP_ADMIN_USERNAME=admin", "-e", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-Passw0rd"])
    output = wait_for_log(keycloak, f"Keycloak {VERSIONS['KEYCLOAK_VERSION']} on JVM", timeout=360)
    assert "Listening on: http://0.0.0.0:8080" in output
    # The image is pre-built for these options: no Quarkus re-augmentation at start.
    assert "Updating the configuration and installing your custom providers" not in output

    management = f"http://{container_ip(keycloak)}:9000"
    for probe in ("started", "ready", "live"):
        response = httpx.get(f"{management}/health/{probe}", timeout=10)
        assert response.status_code == 200, (probe, response.text)
        assert response.json()["status"] == "UP"
    # Keycloak's schema lives in PostgreSQL, not in an embedded database.
    assert psql_in(database, USER, DATABASE, "SELECT name FROM realm WHERE name = 'master'") == "master"
