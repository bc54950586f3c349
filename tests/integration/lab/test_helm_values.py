"""The real helm reads the lab's in-memory values file (`/dev/fd/N`, inherited through the runner)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.config import REPO_ROOT
from lab.helm import Helm, values_file
from lab.runner import Runner

pytestmark = pytest.mark.integration

CACHE_BIN = Path(os.environ.get("RHDEMO_LAB_CACHE", "/var/cache/rhdemo-lab")) / "bin"


@pytest.fixture
def helm() -> Helm:
    return Helm(Runner(tool_dirs=(CACHE_BIN,)), "unused-context", "rhdemo-stagingkub")


def test_helm_renders_with_values_from_memory(helm: Helm) -> None:
    with values_file({"rhdemo": {"replicaCount": 3}}) as path:
        assert helm.refusal("rhdemo", REPO_ROOT / "chart" / "rhdemo", [path]) is None


def test_helm_reads_the_value_it_refuses_from_memory(helm: Helm) -> None:
    with values_file({"rhdemo": {"replicaCount": "two"}}) as path:
        refusal = helm.refusal("rhdemo", REPO_ROOT / "chart" / "rhdemo", [path])
    assert refusal is not None and "replicaCount" in refusal, refusal
