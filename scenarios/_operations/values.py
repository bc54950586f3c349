"""Values as scenarios write them: plain dicts in the chart's terms, a password being a `Password`
(a random value made once per run, shown as `<password-A>` in replay lines, masked everywhere else).
Every helm call gives its complete values, like a plain `helm upgrade` without --reuse-values.

The replay lines here are text for a human to read and retype; the lab runs helm only through
`lab.helm.Helm`."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import Any

CHART = "chart/rhdemo"
LOCAL_SET = "chart/rhdemo/values-image-set-local.yaml"


# What shells, SQL, YAML and URLs treat specially, and bytes beyond ASCII: a password may hold them all.
SPECIAL_CHARACTERS = "' \" \\ $ ` é-密"


class Password:
    """A password made once per run (letters and digits, 24 characters; with `special`, followed by
    SPECIAL_CHARACTERS); `str()` is its placeholder."""

    def __init__(self, label: str, *, special: bool = False) -> None:
        self.label = label
        self.special = special
        self._value: str | None = None

    @property
    def value(self) -> str:
        if self._value is None:
            alphabet = string.ascii_letters + string.digits
            self._value = "".join(secrets.choice(alphabet) for _ in range(24)) + (SPECIAL_CHARACTERS if self.special else "")
        return self._value

    @property
    def placeholder(self) -> str:
        return f"<password-{self.label}>"

    def __str__(self) -> str:
        return self.placeholder

    def __repr__(self) -> str:
        return f"Password({self.label!r})"


def resolve(values: Any) -> Any:
    """The values with each `Password` replaced by its real value (only ever written to a file)."""
    if isinstance(values, Mapping):
        return {key: resolve(value) for key, value in values.items()}
    if isinstance(values, list):
        return [resolve(item) for item in values]
    return values.value if isinstance(values, Password) else values


def set_flags(values: Mapping[str, Any], prefix: str = "") -> list[str]:
    """`--set a.b=c` pairs for replay lines (passwords as placeholders; dots in keys escaped)."""
    flags: list[str] = []
    for key, value in values.items():
        name = f"{prefix}{str(key).replace('.', chr(92) + '.')}"
        if isinstance(value, Mapping):
            flags.extend(set_flags(value, name + "."))
        elif isinstance(value, str) and "\n" in value:
            flags.append(f"--set-file {name}=<file>")
        else:
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            flags.append(f"--set {name}={shown}")
    return flags


def helm_line(values: Mapping[str, Any], *, wait: bool = True, timeout: str | None = None,
              app_release: str = "1.0") -> str:
    """The `helm upgrade --install` a human would type for these values (replay text)."""
    keycloak = [] if "enabled" in (values.get("keycloak") or {}) else ["--set keycloak.enabled=false"]
    parts = ["helm upgrade --install {release}", CHART, "-n {namespace}", f"-f {LOCAL_SET}",
             f"--set rhdemo.image.tag=<app {app_release} tag>", *keycloak, *set_flags(values)]
    if wait:
        parts.append("--wait")
    if timeout:
        parts.append(f"--timeout {timeout}")
    return " ".join(parts)
