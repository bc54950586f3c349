"""Spring-style configuration of the stub: precedence and relaxed binding."""

from __future__ import annotations

from pathlib import Path

import pytest

from rhdemo_stub.config import ConfigError, bind, canonical, load_environment

URL = "jdbc:postgresql://db:5432/rhdemo"


def test_relaxed_binding_names_one_property() -> None:
    forms = ["spring.jpa.hibernate.ddl-auto", "spring.jpa.hibernate.ddlAuto", "SPRING_JPA_HIBERNATE_DDL_AUTO",
             "spring.jpa.hibernate.ddl_auto", "SPRING_JPA_HIBERNATE_DDLAUTO"]
    assert len({canonical(f) for f in forms}) == 1


def test_defaults_are_spring_boots(tmp_path: Path) -> None:
    settings = bind(load_environment({"SPRING_DATASOURCE_URL": URL}, cwd=tmp_path))
    assert (settings.ddl_auto, settings.flyway_enabled, settings.flyway_baseline_on_migrate) == ("none", True, False)
    assert settings.flyway_locations == ("classpath:db/migration",)
    assert (settings.server_port, settings.management_port) == (8080, 9000)
    assert settings.flyway_baseline_version == "1" and settings.flyway_validate_on_migrate
    assert settings.profiles == ()
    # HikariCP's and the actuator's defaults, probes on as in rhDemo's (and the stub's) application.yml
    assert settings.hikari_connection_timeout_ms == 30000
    assert settings.probes_enabled
    assert (settings.liveness_include, settings.readiness_include) == (None, None)


def test_pool_timeout_and_probe_groups_bind_like_spring(tmp_path: Path) -> None:
    settings = bind(load_environment({
        "SPRING_DATASOURCE_URL": URL, "SPRING_DATASOURCE_HIKARI_CONNECTIONTIMEOUT": "2000",
        "MANAGEMENT_ENDPOINT_HEALTH_GROUP_READINESS_INCLUDE": "readinessState, db",
        "MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED": "false"}, cwd=tmp_path))
    assert settings.hikari_connection_timeout_ms == 2000
    assert settings.readiness_include == ("readinessState", "db")
    assert not settings.probes_enabled
    # Hikari refuses a connection-timeout under 250 ms and falls back to 30 s.
    short = bind(load_environment({"SPRING_DATASOURCE_URL": URL,
                                   "SPRING_DATASOURCE_HIKARI_CONNECTION_TIMEOUT": "100"}, cwd=tmp_path))
    assert short.hikari_connection_timeout_ms == 30000


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_environment_over_profile_file_over_base_file(tmp_path: Path) -> None:
    _write(tmp_path / "application.yml", f"spring:\n  datasource:\n    url: {URL}\n    username: base\n"
                                         "  jpa:\n    hibernate:\n      ddl-auto: validate\nserver:\n  port: 1111\n")
    _write(tmp_path / "config" / "application-stagingkub.yml",
           "spring:\n  datasource:\n    username: profile\n  jpa:\n    hibernate:\n      ddlAuto: update\n")
    env = {"SPRING_PROFILES_ACTIVE": "stagingkub", "SPRING_DATASOURCE_USERNAME": "from-env"}
    settings = bind(load_environment(env, cwd=tmp_path))
    assert settings.datasource_username == "from-env"     # env beats profile file
    assert settings.ddl_auto == "update"                   # profile file beats base file
    assert settings.server_port == 1111                    # base file beats built-in default
    assert settings.profiles == ("stagingkub",)


def test_config_dir_beats_working_dir_and_additional_location_beats_both(tmp_path: Path) -> None:
    _write(tmp_path / "application.yml", f"spring.datasource.url: {URL}\nserver.port: 1\n")
    _write(tmp_path / "config" / "application.yml", "server.port: 2\nmanagement.server.port: 2\n")
    _write(tmp_path / "extra" / "application.yml", "server:\n  port: 3\n")
    env = {"SPRING_CONFIG_ADDITIONAL_LOCATION": f"optional:file:{tmp_path / 'extra'}/"}
    settings = bind(load_environment(env, cwd=tmp_path))
    assert (settings.server_port, settings.management_port) == (3, 2)


def test_profile_activated_from_a_file_and_properties_files(tmp_path: Path) -> None:
    _write(tmp_path / "application.properties", f"spring.datasource.url={URL}\nspring.profiles.active=a,b\n")
    _write(tmp_path / "application-a.properties", "server.port=10\n")
    _write(tmp_path / "application-b.yml", "server:\n  port: 20\n")
    settings = bind(load_environment({}, cwd=tmp_path))
    assert settings.profiles == ("a", "b")
    assert settings.server_port == 20                      # the last profile wins


def test_command_line_arguments_beat_environment(tmp_path: Path) -> None:
    env = {"SPRING_DATASOURCE_URL": URL, "SERVER_PORT": "5"}
    settings = bind(load_environment(env, cwd=tmp_path, argv=["--server.port=6"]))
    assert settings.server_port == 6


def test_yaml_documents_later_ones_win(tmp_path: Path) -> None:
    _write(tmp_path / "application.yml", f"spring.datasource.url: {URL}\nserver.port: 1\n---\nserver.port: 2\n")
    assert bind(load_environment({}, cwd=tmp_path)).server_port == 2


@pytest.mark.parametrize("env, fragment", [
    ({"SPRING_DATASOURCE_URL": URL, "SPRING_JPA_HIBERNATE_DDL_AUTO": "drop-everything"}, "drop-everything"),
    ({"SPRING_DATASOURCE_URL": URL, "SPRING_FLYWAY_ENABLED": "maybe"}, "spring.flyway.enabled"),
    ({"SPRING_DATASOURCE_URL": URL, "SERVER_PORT": "eighty"}, "server.port"),
    ({}, "'url' attribute is not specified"),
])
def test_bad_values_are_clear_errors(tmp_path: Path, env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        bind(load_environment(env, cwd=tmp_path))


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    _write(tmp_path / "application.yml", "spring: [unclosed\n")
    with pytest.raises(ConfigError, match="application.yml"):
        load_environment({}, cwd=tmp_path)
