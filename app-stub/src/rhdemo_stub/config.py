"""Spring Boot-style configuration: command-line `--key=value` over environment variables over
`application-<profile>.yml` over `application.yml`, with relaxed binding.

Relaxed binding is reduced to one canonical form: lower case with `.`, `-` and `_` removed, so
`spring.jpa.hibernate.ddl-auto`, `spring.jpa.hibernate.ddlAuto` and `SPRING_JPA_HIBERNATE_DDL_AUTO`
all name the same property. Files are searched where Spring Boot searches them: the built-in
defaults (the "classpath"), then `./`, then `./config/`, then `SPRING_CONFIG_ADDITIONAL_LOCATION`
(comma-separated directories or files); a later location wins, and a profile file wins over every
base file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DDL_AUTO_MODES = ("none", "validate", "update", "create", "create-drop")


class ConfigError(Exception):
    """Invalid configuration: reported like Spring's binding failures, then the app exits."""


def canonical(name: str) -> str:
    return name.replace(".", "").replace("-", "").replace("_", "").lower()


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'spring': {'jpa': {...}}} -> {'spring.jpa...': value}. Lists are joined with commas,
    which is how Spring binds a YAML list to a comma-separated property."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, path))
        elif isinstance(value, list):
            flat[path] = ",".join(str(item) for item in value)
        else:
            flat[path] = value
    return flat


def _load_yaml(text: str, origin: str) -> dict[str, Any]:
    """Every YAML document of the file, later documents over earlier ones (Spring's `---`)."""
    merged: dict[str, Any] = {}
    try:
        for document in yaml.safe_load_all(text):
            if document is None:
                continue
            if not isinstance(document, Mapping):
                raise ConfigError(f"{origin}: expected a mapping at the top level")
            merged.update({canonical(k): v for k, v in flatten(document).items()})
    except yaml.YAMLError as exc:
        raise ConfigError(f"Failed to load property source from '{origin}': {exc}") from None
    return merged


@dataclass(frozen=True)
class PropertySource:
    name: str
    values: dict[str, Any]


def _location_dirs(env: Mapping[str, str], cwd: Path) -> list[Path]:
    dirs = [cwd, cwd / "config"]
    extra = env.get("SPRING_CONFIG_ADDITIONAL_LOCATION", "")
    for item in (part.strip() for part in extra.split(",")):
        if not item:
            continue
        item = item.removeprefix("optional:").removeprefix("file:")
        dirs.append(Path(item))
    return dirs


def _file_sources(env: Mapping[str, str], cwd: Path, profiles: Sequence[str]) -> list[PropertySource]:
    """Lowest precedence first."""
    builtin = resources.files("rhdemo_stub").joinpath("application.yml").read_text(encoding="utf-8")
    base: list[PropertySource] = [PropertySource("classpath:/application.yml",
                                                 _load_yaml(builtin, "classpath:/application.yml"))]
    profiled: list[PropertySource] = []
    for location in _location_dirs(env, cwd):
        if location.is_file():
            base.append(PropertySource(str(location), _load_yaml(location.read_text(encoding="utf-8"), str(location))))
            continue
        for suffix in ("yml", "yaml", "properties"):
            path = location / f"application.{suffix}"
            if path.is_file():
                base.append(PropertySource(str(path), _read_file(path)))
        for profile in profiles:
            for suffix in ("yml", "yaml", "properties"):
                path = location / f"application-{profile}.{suffix}"
                if path.is_file():
                    profiled.append(PropertySource(str(path), _read_file(path)))
    return base + profiled


def _read_file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".properties":
        values: dict[str, Any] = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "!")):
                continue
            sep = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
            if sep < 0:
                continue
            values[canonical(line[:sep].strip())] = line[sep + 1:].strip()
        return values
    return _load_yaml(text, str(path))


def _env_source(env: Mapping[str, str]) -> PropertySource:
    return PropertySource("systemEnvironment", {canonical(k): v for k, v in env.items()})


def _args_source(argv: Sequence[str]) -> PropertySource:
    values: dict[str, Any] = {}
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            raise ConfigError(f"Unsupported argument {arg!r}: use --property.name=value")
        key, _, value = arg[2:].partition("=")
        values[canonical(key)] = value
    return PropertySource("commandLineArgs", values)


class Environment:
    """Resolved properties, highest-precedence source first."""

    def __init__(self, sources: Sequence[PropertySource], profiles: Sequence[str]) -> None:
        self.sources = list(sources)
        self.profiles = list(profiles)

    def get(self, name: str, default: Any = None) -> Any:
        key = canonical(name)
        for source in self.sources:
            if key in source.values and source.values[key] is not None:
                return source.values[key]
        return default

    def get_str(self, name: str, default: str = "") -> str:
        value = self.get(name, default)
        return "" if value is None else str(value)

    def get_bool(self, name: str, default: bool) -> bool:
        value = self.get(name, default)
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"Failed to bind properties under '{name}' to boolean: invalid value '{value}'")

    def get_int(self, name: str, default: int) -> int:
        value = self.get(name, default)
        try:
            return int(str(value).strip())
        except ValueError:
            raise ConfigError(f"Failed to bind properties under '{name}' to int: invalid value '{value}'") from None


def _profiles(sources: Sequence[PropertySource]) -> list[str]:
    key = canonical("spring.profiles.active")
    for source in sources:
        if key in source.values and source.values[key] not in (None, ""):
            return [p.strip() for p in str(source.values[key]).split(",") if p.strip()]
    return []


def load_environment(env: Mapping[str, str] | None = None, cwd: Path | None = None,
                     argv: Sequence[str] = ()) -> Environment:
    """Spring's order: the active profiles come from args, env or base files; then profile files are read."""
    env = dict(os.environ if env is None else env)
    cwd = cwd or Path.cwd()
    args, environ = _args_source(argv), _env_source(env)
    base_files = [s for s in _file_sources(env, cwd, []) if s]
    profiles = _profiles([args, environ, *reversed(base_files)])
    files = _file_sources(env, cwd, profiles)
    return Environment([args, environ, *reversed(files)], profiles)


@dataclass(frozen=True)
class AppSettings:
    """The properties the stub uses, bound and checked once at startup."""

    application_name: str
    datasource_url: str
    datasource_username: str
    datasource_password: str
    ddl_auto: str
    flyway_enabled: bool
    flyway_locations: tuple[str, ...]
    flyway_baseline_on_migrate: bool
    flyway_baseline_version: str
    flyway_baseline_description: str
    flyway_validate_on_migrate: bool
    server_port: int
    management_port: int
    server_address: str
    shutdown_grace_seconds: float
    profiles: tuple[str, ...]
    hikari_connection_timeout_ms: int = 30000
    probes_enabled: bool = True
    liveness_include: tuple[str, ...] | None = None
    readiness_include: tuple[str, ...] | None = None


def _names(value: str) -> tuple[str, ...] | None:
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    return names or None


def bind(environment: Environment) -> AppSettings:
    ddl_auto = environment.get_str("spring.jpa.hibernate.ddl-auto", "none").strip().lower()
    if ddl_auto not in DDL_AUTO_MODES:
        raise ConfigError(f"Unrecognized legacy `hibernate.hbm2ddl.auto` value : `{ddl_auto}`; "
                          f"expected one of {', '.join(DDL_AUTO_MODES)}")
    url = environment.get_str("spring.datasource.url")
    if not url:
        raise ConfigError("Failed to configure a DataSource: 'url' attribute is not specified "
                          "and no embedded datasource could be configured.")
    locations = tuple(loc.strip() for loc in
                      environment.get_str("spring.flyway.locations", "classpath:db/migration").split(",") if loc.strip())
    return AppSettings(
        application_name=environment.get_str("spring.application.name", "rhdemo"),
        datasource_url=url,
        datasource_username=environment.get_str("spring.datasource.username"),
        datasource_password=environment.get_str("spring.datasource.password"),
        ddl_auto=ddl_auto,
        flyway_enabled=environment.get_bool("spring.flyway.enabled", True),
        flyway_locations=locations,
        flyway_baseline_on_migrate=environment.get_bool("spring.flyway.baseline-on-migrate", False),
        flyway_baseline_version=environment.get_str("spring.flyway.baseline-version", "1"),
        flyway_baseline_description=environment.get_str("spring.flyway.baseline-description",
                                                        "<< Flyway Baseline >>"),
        flyway_validate_on_migrate=environment.get_bool("spring.flyway.validate-on-migrate", True),
        server_port=environment.get_int("server.port", 8080),
        management_port=environment.get_int("management.server.port", 9000),
        server_address=environment.get_str("server.address", "0.0.0.0"),
        shutdown_grace_seconds=float(environment.get_str("spring.lifecycle.timeout-per-shutdown-phase", "30s")
                                     .rstrip("s") or 30),
        profiles=tuple(environment.profiles),
        hikari_connection_timeout_ms=_connection_timeout(environment),
        # Spring's default is off (outside Kubernetes); the stub's application.yml turns it on, as rhDemo does.
        probes_enabled=environment.get_bool("management.endpoint.health.probes.enabled", False),
        liveness_include=_names(environment.get_str("management.endpoint.health.group.liveness.include")),
        readiness_include=_names(environment.get_str("management.endpoint.health.group.readiness.include")),
    )


def _connection_timeout(environment: Environment) -> int:
    """spring.datasource.hikari.connection-timeout in ms; Hikari raises anything under 250 ms to 30000."""
    value = environment.get_int("spring.datasource.hikari.connection-timeout", 30000)
    return value if value >= 250 else 30000
