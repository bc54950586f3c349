"""Helpers for the chart tests: find the real helm binaries, render the chart, pick objects and the
scripts embedded in them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "chart" / "rhdemo"
LOCAL_IMAGE_SET = CHART / "values-image-set-local.yaml"
KUBERNETES_VERSION = "1.34"  # the version the lab's kind cluster runs (.ci/versions.env)

PASSWORD_SYNC_MODES = ("robust", "seed", "none")
MIGRATION_MODES = ("app-flyway", "sql-job", "flyway-job", "init-container", "hibernate-update", "none")

# Fixed passwords so renders are deterministic (otherwise the chart generates random ones).
FIXED_PASSWORDS = {
    "postgresql-rhdemo.database.password": "rhdemo-test-pw",
    "postgresql-keycloak.database.password": "keycloak-test-pw",
    "keycloak.admin.password": "admin-test-pw",
    # The key of the checksum annotations (random otherwise, kept by lookup on a real cluster).
    "checksumKey": "checksum-test-key",
}


@dataclass(frozen=True)
class Helm:
    path: Path
    version: str  # e.g. v3.22.0

    @property
    def major(self) -> int:
        return int(self.version.lstrip("v").split(".")[0])

    def __str__(self) -> str:
        return f"helm {self.version}"


def find_helm_binaries() -> list[Helm]:
    """HELM_BINARIES (colon-separated paths), else every helm-v* in $RHDEMO_LAB_CACHE/bin
    (built by .ci/lib/install-helm.sh)."""
    listed = os.environ.get("HELM_BINARIES", "")
    if listed:
        paths = [Path(p) for p in listed.split(":") if p]
    else:
        cache_bin = Path(os.environ.get("RHDEMO_LAB_CACHE", "/var/cache/rhdemo-lab")) / "bin"
        paths = sorted(cache_bin.glob("helm-v*")) if cache_bin.is_dir() else []
    helms = []
    for path in paths:
        out = subprocess.run([str(path), "version", "--template", "{{.Version}}"],
                             capture_output=True, text=True, check=True)
        helms.append(Helm(path=path, version=out.stdout.strip()))
    return helms


def values_file(values: dict[str, Any]) -> Path:
    """A values file (JSON, a subset of YAML) from dotted keys: no --set escaping (commas, quotes,
    special-character passwords) and strings stay strings."""
    nested: dict[str, Any] = {}
    for key, value in values.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", prefix="rhdemo-values-", delete=False)
    with handle:
        json.dump(nested, handle, ensure_ascii=False)
    return Path(handle.name)


def set_args(values: dict[str, Any]) -> list[str]:
    """`-f <file>` carrying `values` (see values_file)."""
    return ["-f", str(values_file(values))] if values else []


def render(helm: Helm, values: dict[str, Any] | None = None, files: Iterable[Path] = (),
           release: str = "rhdemo", revision: int | None = None, upgrade: bool = False) -> list[dict[str, Any]]:
    """`helm template` (as an install, or as an upgrade) with the hooks and tests; returns the objects."""
    args = [str(helm.path), "template", release, str(CHART), "--namespace", "rhdemo-stagingkub",
            "--kube-version", f"{KUBERNETES_VERSION}.0", *(["--is-upgrade"] if upgrade else [])]
    for f in files:
        args += ["-f", str(f)]
    args += set_args({**FIXED_PASSWORDS, **(values or {})})
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"{helm} template failed:\n{result.stderr}")
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    if revision is not None:  # helm template always renders revision 1
        for doc in docs:
            doc["metadata"]["name"] = re.sub(r"-1$", f"-{revision}", doc["metadata"]["name"])
    return docs


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert matches, f"no {kind} {name} in {[(d['kind'], d['metadata']['name']) for d in docs]}"
    return matches[0]


def names(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(d["kind"], d["metadata"]["name"]) for d in docs}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]


def container(obj: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod_spec(obj)
    for c in spec.get("initContainers", []) + spec["containers"]:
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name} in {obj['kind']} {obj['metadata']['name']}")


def kubernetes_expand(text: str, env: dict[str, str]) -> str:
    """What the kubelet does to `command`/`args` before running them: `$(VAR)` becomes the value of the
    container's env var VAR when it is defined (kept as is otherwise) and `$$` becomes `$`."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, text)


def shell_script(c: dict[str, Any]) -> str:
    """The script of a `/bin/sh -c <script>` container, as the container gets it (Kubernetes' expansion
    applied with its literal env values)."""
    command = c["command"]
    assert command[:2] == ["/bin/sh", "-c"], command
    literal_env = {e["name"]: str(e["value"]) for e in c.get("env", []) if "value" in e}
    return kubernetes_expand(command[2], literal_env)


def secret_value(docs: list[dict[str, Any]], name: str, key: str) -> str:
    import base64
    return base64.b64decode(find(docs, "Secret", name)["data"][key]).decode()


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    """Polls `predicate` every 0.2 s; whether it held within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False
