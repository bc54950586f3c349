"""The real kind cluster every `cluster` test runs on.

CI (`.ci/run`) brings it up before pytest; on a developer machine `lab up` does. These tests
never create or skip around a missing cluster: a cluster that is not there is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

CACHE_BIN = Path(os.environ.get("RHDEMO_LAB_CACHE", "/var/cache/rhdemo-lab")) / "bin"


def tool(name: str) -> str:
    """A CLI from PATH, else from the machine-level cache that .ci/run fills."""
    found = shutil.which(name) or (str(CACHE_BIN / name) if (CACHE_BIN / name).exists() else None)
    if not found:
        pytest.fail(f"{name} not found on PATH or in {CACHE_BIN}: run .ci/run (or install {name})")
    return found


@dataclass(frozen=True)
class Cluster:
    name: str
    context: str

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 180) -> subprocess.CompletedProcess[str]:
        cmd = [tool("kubectl"), "--context", self.context, *args]
        result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def kubectl_json(self, *args: str) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    @property
    def node_container(self) -> str:
        return f"{self.name}-control-plane"


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    name = os.environ.get("RHDEMO_LAB_CLUSTER_NAME", "rhdemo-lab")
    clusters = subprocess.run([tool("kind"), "get", "clusters"], capture_output=True, text=True).stdout.split()
    if name not in clusters:
        pytest.fail(f"kind cluster {name!r} is not running (have: {clusters or 'none'}); "
                    "CI brings it up in .ci/run, on a laptop run `lab up`")
    return Cluster(name=name, context=f"kind-{name}")
