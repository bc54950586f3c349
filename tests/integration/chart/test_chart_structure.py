"""Bitnami's conventions, checked on real renders (helm 3 and 4): one object per template file, the
standard labels on every object and pod template (Jobs and test pods included), and each kind of
container sized by its own `resources` value."""

from __future__ import annotations

import itertools
import re
import subprocess
from collections import Counter
from typing import Any

import pytest
import yaml

from tests.integration.chart.chartlib import (
    CHART, FIXED_PASSWORDS, KUBERNETES_VERSION, MIGRATION_MODES, PASSWORD_SYNC_MODES, Helm, pod_spec, render, set_args,
)

pytestmark = pytest.mark.integration

STANDARD_LABELS = ("app", "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
                   "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by", "helm.sh/chart")
MODES = list(itertools.product(PASSWORD_SYNC_MODES, MIGRATION_MODES))


def _sources(helm: Helm, values: dict[str, Any]) -> Counter[str]:
    """How many objects each template file renders (helm's `# Source:` comments)."""
    result = subprocess.run([str(helm.path), "template", "rhdemo", str(CHART), "--namespace", "rhdemo-stagingkub",
                             "--kube-version", f"{KUBERNETES_VERSION}.0", *set_args({**FIXED_PASSWORDS, **values})],
                            capture_output=True, text=True, check=True)
    counts: Counter[str] = Counter()
    for document in re.split(r"^---\s*$", result.stdout, flags=re.MULTILINE):
        source = re.search(r"^# Source: (\S+)", document, flags=re.MULTILINE)
        if source and yaml.safe_load(document):
            counts[source.group(1)] += 1
    return counts


@pytest.mark.parametrize(("sync", "migrations"), MODES, ids=[f"{s}-{m}" for s, m in MODES])
def test_one_object_per_template_file(helm: Helm, sync: str, migrations: str) -> None:
    counts = _sources(helm, {"passwordSync.mode": sync, "migrations.mode": migrations})
    assert counts, "nothing rendered"
    assert {source: n for source, n in counts.items() if n != 1} == {}


@pytest.mark.parametrize(("sync", "migrations"), MODES, ids=[f"{s}-{m}" for s, m in MODES])
def test_standard_labels_on_every_object_and_pod(helm: Helm, sync: str, migrations: str) -> None:
    for upgrade in (False, True):
        for obj in render(helm, {"passwordSync.mode": sync, "migrations.mode": migrations}, upgrade=upgrade):
            where = f"{obj['kind']} {obj['metadata']['name']}"
            labels = obj["metadata"].get("labels", {})
            assert [k for k in STANDARD_LABELS if k not in labels] == [], where
            assert labels["app.kubernetes.io/instance"] == "rhdemo" and labels["app.kubernetes.io/managed-by"] == "Helm"
            if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
                pod_labels = obj["spec"]["template"]["metadata"]["labels"]
                assert [k for k in STANDARD_LABELS if k not in pod_labels] == [], f"pod template of {where}"
            if obj["kind"] in ("Job", "Pod"):  # what the scenarios select pods by (component=schema-migration)
                assert pod_labels_of(obj)["component"] == labels["app.kubernetes.io/component"], where


def pod_labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return obj["metadata"]["labels"] if obj["kind"] == "Pod" else obj["spec"]["template"]["metadata"]["labels"]


def _limits(docs: list[dict[str, Any]]) -> dict[str, str]:
    """`<object>/<container>` -> its CPU limit, for every container of every pod."""
    out = {}
    for obj in docs:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job", "Pod"):
            spec = pod_spec(obj)
            for c in spec.get("initContainers", []) + spec["containers"]:
                out[f"{obj['metadata']['name']}/{c['name']}"] = str(c["resources"]["limits"]["cpu"])
    return out


@pytest.mark.parametrize(("value", "sync", "migrations", "expected"), [
    ("passwordSync.jobResources", "seed", "none",
     {"postgresql-rhdemo-password-sync-1/sync-password", "postgresql-keycloak-password-sync-1/sync-password"}),
    ("passwordSync.resources", "robust", "none", {"postgresql-rhdemo/password-sync", "postgresql-keycloak/password-sync"}),
    ("waitContainers.resources", "seed", "sql-job",
     {"rhdemo-app/wait-for-db", "rhdemo-app/wait-for-keycloak", "rhdemo-app/wait-for-schema", "keycloak/wait-for-db",
      "schema-migration-1/wait-for-db", "postgresql-rhdemo-password-sync-1/wait-for-db",
      "postgresql-keycloak-password-sync-1/wait-for-db"}),
    ("migrations.resources", "none", "init-container", {"rhdemo-app/init-schema"}),
    ("migrations.resources", "none", "sql-job", {"schema-migration-1/migrate"}),
])
def test_each_container_kind_has_its_own_resources(helm: Helm, value: str, sync: str, migrations: str,
                                                   expected: set[str]) -> None:
    values = {"passwordSync.mode": sync, "migrations.mode": migrations}
    before = _limits(render(helm, values))
    after = _limits(render(helm, {**values, f"{value}.limits.cpu": "777m"}))
    assert {name for name in before if before[name] != after[name]} == expected
    assert all(after[name] == "777m" for name in expected)
