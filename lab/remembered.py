"""What `lab up` was given, remembered for every later command (`status`, `logs`, `psql`, `values`,
`scenario`, `down`, and the next `up`), so that none of them needs the same flags again.

One JSON file per lab cluster in the state dir (`<state dir>/<cluster name>.settings.json`): the image
set, node image, CA certificate, kube context (each only when it was not the default), the values
files given by flag (absolute paths: their content is read again each time) and the `--set` pairs
given by flag. Never a secret: a `--set` pair whose key names a secret (`lab.runner.is_secret_key`) is
not remembered, only its key, so that the next `lab up` without it is refused instead of silently
deploying the chart's default password. `lab down` forgets the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.config import DEFAULT, FLAG, REMEMBERED_SETTINGS, LabConfig, ResolvedConfig, resolve_config
from lab.errors import ConfigError, LabError
from lab.runner import MASK, is_secret_key

_SCALARS = ("image_set", "node_image", "ca_cert", "kube_context")
SECRET_KEYS = "secret_set_keys"  # the keys of --set pairs not remembered because they carry a secret
_LABELS = {"image_set": "image set", "node_image": "node image", "ca_cert": "CA certificate",
           "kube_context": "context", "values_files": "values files", "set_values": "--set"}


def settings_path(state_dir: Path, cluster_name: str) -> Path:
    return state_dir / f"{cluster_name}.settings.json"


@dataclass(frozen=True)
class Remembered:
    """The settings file as read: raw settings (parsed like a config layer) and the secret keys left out."""

    path: Path
    settings: Mapping[str, Any]
    secret_keys: tuple[str, ...] = ()


def read(path: Path) -> Remembered | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the remembered settings {path} cannot be read: {exc}",
                          f"delete it (`rm {path}`) and give `lab up` its flags again") from None
    settings = {key: data[key] for key in REMEMBERED_SETTINGS if key in data}
    return Remembered(path, settings, tuple(str(key) for key in data.get(SECRET_KEYS) or ()))


@dataclass(frozen=True)
class ResolvedSettings:
    """The config of this command, where each setting came from, and the remembered file it used."""

    resolved: ResolvedConfig
    path: Path
    remembered: Remembered | None

    @property
    def config(self) -> LabConfig:
        return self.resolved.config

    def missing_secrets(self) -> tuple[str, ...]:
        """Keys of secret --set pairs the last `up` was given and this command was not (none remembered)."""
        if self.remembered is None or FLAG in self.resolved.origins["set_values"]:
            return ()
        return self.remembered.secret_keys

    def check_for_up(self) -> None:
        """`lab up` without a secret it was given last time would deploy another value (the chart's
        default password): refused, before anything changes."""
        missing = self.missing_secrets()
        if missing:
            raise LabError(f"the last `lab up` was given a secret with --set ({', '.join(missing)}); the lab does not "
                           "remember secrets",
                           "give it again: `lab up --set " + " --set ".join(f"{key}=..." for key in missing)
                           + "` (with every other --set you want: --set flags replace the remembered ones), "
                           "or put it in a values file (remembered by path)")

    def shown(self) -> list[SettingShown]:
        """Each remembered setting, its value and where it came from (for `lab status`)."""
        config, origins = self.config, self.resolved.origins
        values: dict[str, str] = {
            "image_set": str(config.image_set),
            "node_image": config.node_image or "kind's default",
            "ca_cert": str(config.ca_cert) if config.ca_cert else "none",
            "kube_context": config.context,
            "values_files": ", ".join(map(str, config.values_files)) or "none",
            "set_values": ", ".join(f"{k}={MASK if is_secret_key(k) else v}" for k, v in config.set_values) or "none",
        }
        return [SettingShown(_LABELS[key], values[key], origins[key]) for key in REMEMBERED_SETTINGS]


@dataclass(frozen=True)
class SettingShown:
    name: str
    value: str  # a --set value under a secret key is masked
    origin: str


def load_settings(flags: Mapping[str, Any], *, config_file: Path | None = None,
                  env: Mapping[str, str] | None = None, cwd: Path | None = None) -> ResolvedSettings:
    """The config with the remembered layer: the file's place comes from the other layers (state dir,
    cluster name are never remembered)."""
    without = resolve_config(flags, env=env, config_file=config_file, cwd=cwd)
    path = settings_path(without.config.state_dir, without.config.cluster_name)
    remembered = read(path)
    if remembered is None:
        return ResolvedSettings(without, path, None)
    return ResolvedSettings(resolve_config(flags, env=env, config_file=config_file, cwd=cwd, remembered=remembered.settings),
                    path, remembered)


@dataclass(frozen=True)
class Recorded:
    path: Path
    secret_keys: tuple[str, ...]  # --set keys not remembered (their values are secrets)


def record(settings: ResolvedSettings) -> Recorded:
    """Write what this `lab up` was given (atomically, 0600 although nothing in it is secret)."""
    resolved = settings.resolved
    config = resolved.config
    data: dict[str, Any] = {}
    for key in _SCALARS:
        if resolved.origins[key] != DEFAULT:
            value = getattr(config, key)
            data[key] = str(value.resolve()) if isinstance(value, Path) else str(value)
    files: Sequence[Path] = resolved.given.get("values_files", ())
    if files:
        data["values_files"] = [str(Path(path).resolve()) for path in files]
    pairs: Sequence[tuple[str, str]] = resolved.given.get("set_values", ())
    secret_keys = tuple(dict.fromkeys(key for key, _ in pairs if is_secret_key(key)))
    kept = [f"{key}={value}" for key, value in pairs if not is_secret_key(key)]
    if kept:
        data["set_values"] = kept
    if secret_keys:
        data[SECRET_KEYS] = list(secret_keys)
    path = settings.path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(temporary, path)
    return Recorded(path, secret_keys)


def forget(settings: ResolvedSettings) -> Path | None:
    """Remove the remembered settings (nothing is deployed any more); the path removed, if any."""
    try:
        settings.path.unlink()
    except FileNotFoundError:
        return None
    return settings.path

