"""The lab's settings: one frozen dataclass, built once and passed down.

Precedence (lowest first): defaults <- the host's CA settings (`PIP_CERT`, pip's `cert`,
`REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`) <- config file (`./lab.toml`, else
`~/.config/rhdemo-lab/config.toml`) <- environment (`RHDEMO_LAB_*`) <- what the last `lab up` was
given (`lab.remembered`; only the settings no flag gives) <- flags.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_IMAGE_PREFIX = "localhost/rhdemo-lab"
ENV_PREFIX = "RHDEMO_LAB_"


@dataclass(frozen=True)
class ImageSet:
    """Where the chart's third-party images come from: `public`, `mirror:<prefix>` or `local`."""

    kind: str  # "public" | "mirror" | "local"
    mirror_prefix: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageSet:
        text = text.strip()
        if text in ("public", "local"):
            return cls(text)
        if text.startswith("mirror:"):
            prefix = text.removeprefix("mirror:").strip().rstrip("/")
            if not prefix or " " in prefix:
                raise ConfigError(f"image set {text!r} has no registry prefix",
                                  "use --image-set mirror:<registry>[/<path>], e.g. mirror:registry.example.com/dockerhub")
            return cls("mirror", prefix)
        raise ConfigError(f"unknown image set {text!r}",
                          "use one of: public, local, mirror:<registry prefix>")

    def __str__(self) -> str:
        return f"mirror:{self.mirror_prefix}" if self.kind == "mirror" else self.kind


@dataclass(frozen=True)
class Timeouts:
    """Seconds."""

    cluster_create: int = 600
    helm: int = 600
    ready: int = 600
    command: int = 300
    build: int = 1800


@dataclass(frozen=True)
class LabConfig:
    cluster_name: str = "rhdemo-lab"
    node_image: str | None = None  # None = kind's default node image
    namespace: str = "rhdemo-stagingkub"
    release: str = "rhdemo"
    image_set: ImageSet = ImageSet("public")
    chart_path: Path = REPO_ROOT / "chart" / "rhdemo"
    app_stub_path: Path = REPO_ROOT / "app-stub"
    app_releases: tuple[str, ...] = ("1.0", "1.1")
    app_release: str = "1.0"  # the release `up` deploys; both are built
    values_files: tuple[Path, ...] = ()
    set_values: tuple[tuple[str, str], ...] = ()
    ca_cert: Path | None = None
    kube_context: str | None = None  # None = the kind cluster's own context
    app_host_port: int = 8080
    actuator_host_port: int = 9000
    app_node_port: int = 30080
    actuator_node_port: int = 30900
    tool_dirs: tuple[Path, ...] = field(
        default_factory=lambda: (Path(os.environ.get("RHDEMO_LAB_CACHE", "/var/cache/rhdemo-lab")) / "bin",))
    state_dir: Path = Path.home() / ".cache" / "rhdemo-lab"
    timeouts: Timeouts = Timeouts()

    @property
    def uses_kind(self) -> bool:
        """False when --context targets an existing cluster: the lab then never creates or deletes one.
        Read once, by `lab.cluster.cluster_for`; everything else asks the cluster provider."""
        return self.kube_context is None

    @property
    def context(self) -> str:
        return self.kube_context or f"kind-{self.cluster_name}"

    @property
    def node_container(self) -> str:
        return f"{self.cluster_name}-control-plane"


# Each settable field, how to parse it from a string (env) or a TOML value.
def _to_path(value: Any) -> Path:
    return Path(os.path.expanduser(str(value)))


def _to_int(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    return number


def _to_port(name: str, value: Any) -> int:
    port = _to_int(name, value)
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name} must be a TCP port (1-65535), got {value!r}")
    return port


def _to_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    raise ConfigError(f"expected a list, got {value!r}")


def parse_set_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r} is not KEY=VALUE", "e.g. --set rhdemo.replicaCount=2")
    return key.strip(), value


def _set_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, Mapping):
        return tuple((str(k), str(v)) for k, v in value.items())
    return tuple(parse_set_pair(item) for item in _to_list(value))


_PARSERS: dict[str, Any] = {
    "cluster_name": str,
    "node_image": lambda v: str(v) or None,
    "namespace": str,
    "release": str,
    "image_set": lambda v: v if isinstance(v, ImageSet) else ImageSet.parse(str(v)),
    "chart_path": _to_path,
    "app_stub_path": _to_path,
    "app_releases": lambda v: tuple(_to_list(v)),
    "app_release": str,
    "values_files": lambda v: tuple(_to_path(p) for p in _to_list(v)),
    "set_values": _set_pairs,
    "ca_cert": lambda v: _to_path(v) if str(v) else None,
    "kube_context": lambda v: str(v) or None,
    "app_host_port": lambda v: _to_port("app_host_port", v),
    "actuator_host_port": lambda v: _to_port("actuator_host_port", v),
    "app_node_port": lambda v: _to_port("app_node_port", v),
    "actuator_node_port": lambda v: _to_port("actuator_node_port", v),
    "tool_dirs": lambda v: tuple(_to_path(p) for p in _to_list(v)),
    "state_dir": _to_path,
}
_TIMEOUT_FIELDS = {f.name for f in dataclasses.fields(Timeouts)}
# Fields where a flag adds to (instead of replacing) what the config file and the environment set.
_ADDITIVE = {"values_files", "set_values"}
# What `lab up` remembers for later commands (`lab.remembered`): what it was given about where things
# come from and what is deployed — never where the lab keeps its state (cluster_name, state_dir).
REMEMBERED_SETTINGS = ("image_set", "node_image", "ca_cert", "kube_context", "values_files", "set_values")
# Where a setting's value came from, lowest first.
DEFAULT, HOST, CONFIG_FILE, ENVIRONMENT, REMEMBERED, FLAG = "default", "host's", "config file", "environment", "remembered", "flag"


def default_config_files(cwd: Path) -> list[Path]:
    return [cwd / "lab.toml", Path.home() / ".config" / "rhdemo-lab" / "config.toml"]


def _layer_from_mapping(source: str, raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    settings: dict[str, Any] = {}
    timeouts: dict[str, int] = {}
    for key, value in raw.items():
        if key == "timeouts" and isinstance(value, Mapping):
            for name, seconds in value.items():
                if name not in _TIMEOUT_FIELDS:
                    raise ConfigError(f"{source}: unknown timeout {name!r}",
                                      f"known timeouts: {', '.join(sorted(_TIMEOUT_FIELDS))}")
                timeouts[name] = _to_int(f"timeouts.{name}", seconds)
        elif key.startswith("timeout_") and key.removeprefix("timeout_") in _TIMEOUT_FIELDS:
            timeouts[key.removeprefix("timeout_")] = _to_int(key, value)
        elif key in _PARSERS:
            settings[key] = _PARSERS[key](value)
        else:
            raise ConfigError(f"{source}: unknown setting {key!r}",
                              f"known settings: {', '.join(sorted(_PARSERS))}, [timeouts]")
    return settings, timeouts


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == "RHDEMO_LAB_CACHE" or name == "RHDEMO_LAB_CONFIG":
            continue
        key = name.removeprefix(ENV_PREFIX).lower()
        if key in _PARSERS or (key.startswith("timeout_") and key.removeprefix("timeout_") in _TIMEOUT_FIELDS):
            raw[key] = value
        # Unknown RHDEMO_LAB_* variables belong to other tools (tests, CI): ignored.
    return raw


def pip_config_files(env: Mapping[str, str], system_dir: Path = Path("/etc")) -> list[Path]:
    """pip's configuration files, lowest precedence first (global, user, site, $PIP_CONFIG_FILE)."""
    if env.get("PIP_CONFIG_FILE") == os.devnull:
        return []  # pip's documented way to load no configuration at all
    xdg_dirs = [Path(d) for d in env.get("XDG_CONFIG_DIRS", "").split(":") if d] or [system_dir / "xdg"]
    files = [d / "pip" / "pip.conf" for d in reversed(xdg_dirs)] + [system_dir / "pip.conf"]
    if env.get("HOME"):
        home = Path(env["HOME"])
        files += [home / ".pip" / "pip.conf", Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf"]
    if env.get("VIRTUAL_ENV"):
        files.append(Path(env["VIRTUAL_ENV"]) / "pip.conf")
    if env.get("PIP_CONFIG_FILE"):
        files.append(Path(env["PIP_CONFIG_FILE"]))
    return files


def host_ca_bundle(env: Mapping[str, str], system_dir: Path = Path("/etc")) -> tuple[str, Path] | None:
    """The CA bundle this host already trusts for downloads, and where that was said: the image builds
    run pip, so pip's own settings come first. None when the host sets none."""
    if env.get("PIP_CERT"):
        return "PIP_CERT", _to_path(env["PIP_CERT"])
    found: tuple[str, Path] | None = None
    for path in pip_config_files(env, system_dir):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue  # pip would refuse it too; the build then fails with pip's own message
        for section in ("global", "install"):
            if parser.get(section, "cert", fallback=""):
                found = f"{path} [{section}] cert", _to_path(parser.get(section, "cert"))
    if found:
        return found
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if env.get(name):
            return name, _to_path(env[name])
    return None


@dataclass(frozen=True)
class ResolvedConfig:
    """The config, and for each remembered setting where its value came from (`lab status` shows it;
    `lab up` records what was not a default)."""

    config: LabConfig
    # setting -> DEFAULT | "host's PIP_CERT"... | CONFIG_FILE | ENVIRONMENT | REMEMBERED | FLAG ("a + b" for lists)
    origins: Mapping[str, str]
    # values_files / set_values: the part given by flags, else by the remembered layer (not the file's or env's)
    given: Mapping[str, tuple[Any, ...]]


def load_config(flags: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None,
                config_file: Path | None = None, cwd: Path | None = None, system_dir: Path = Path("/etc")) -> LabConfig:
    """Build the config once: defaults <- host CA <- file <- env <- flags (flags with value None are unset)."""
    return resolve_config(flags, env=env, config_file=config_file, cwd=cwd, system_dir=system_dir).config


def resolve_config(flags: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None,
                   config_file: Path | None = None, cwd: Path | None = None, system_dir: Path = Path("/etc"),
                   remembered: Mapping[str, Any] | None = None) -> ResolvedConfig:
    """defaults <- host CA <- file <- env <- remembered <- flags. A remembered setting is dropped when a flag gives
    it (for values files and --set pairs: the whole remembered list); like flags, remembered lists add
    to the file's and the environment's."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    layers: list[tuple[str, str, Mapping[str, Any]]] = []
    host_ca = host_ca_bundle(env, system_dir)
    if host_ca is not None:
        layers.append((f"{HOST} {host_ca[0]}", host_ca[0], {"ca_cert": host_ca[1]}))

    explicit = config_file or (Path(env["RHDEMO_LAB_CONFIG"]) if env.get("RHDEMO_LAB_CONFIG") else None)
    if explicit is not None and not explicit.is_file():
        raise ConfigError(f"config file {explicit} does not exist", "create it or drop --config / RHDEMO_LAB_CONFIG")
    for candidate in [explicit] if explicit else default_config_files(cwd):
        if candidate.is_file():
            try:
                layers.append((CONFIG_FILE, str(candidate), tomllib.loads(candidate.read_text(encoding="utf-8"))))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{candidate}: invalid TOML: {exc}") from None
            break
    layers.append((ENVIRONMENT, "environment", _env_layer(env)))
    given_flags = {k: v for k, v in (flags or {}).items() if v is not None and v != () and v != []}
    layers.append((REMEMBERED, "remembered settings",
                   {k: v for k, v in (remembered or {}).items() if k in REMEMBERED_SETTINGS and k not in given_flags}))
    layers.append((FLAG, "flags", given_flags))

    settings: dict[str, Any] = {}
    timeouts: dict[str, int] = {}
    origins: dict[str, list[str]] = {}
    given: dict[str, tuple[Any, ...]] = {}
    for origin, source, raw in layers:
        layer_settings, layer_timeouts = _layer_from_mapping(source, raw)
        for key, value in layer_settings.items():
            if key in _ADDITIVE and origin in (REMEMBERED, FLAG):
                settings[key] = tuple(settings.get(key, ())) + tuple(value)
                given[key] = tuple(value)
                origins.setdefault(key, []).append(origin)
            else:
                settings[key] = value
                origins[key] = [origin]
        timeouts.update(layer_timeouts)
    config = LabConfig(**settings, timeouts=Timeouts(**timeouts))
    if config.app_release not in config.app_releases:
        raise ConfigError(f"app_release {config.app_release!r} is not one of the built releases {config.app_releases}")
    return ResolvedConfig(config, {key: " + ".join(origins.get(key, [DEFAULT])) for key in REMEMBERED_SETTINGS}, given)
