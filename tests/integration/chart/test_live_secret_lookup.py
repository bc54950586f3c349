"""What the chart does with a Secret that already lives in the cluster (the seed's Test 3:
`kubectl apply` of rhdemo-db-secret, then `helm upgrade`). Rendered by the real helm with
`--dry-run=server` against a stand-in API server that serves the live Secret to the chart's `lookup`."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.chart.chartlib import CHART, Helm, find, set_args
from tests.integration.chart.fakeapi import FakeApiServer

pytestmark = pytest.mark.integration

NS = "rhdemo-stagingkub"


def _render_against(helm: Helm, tmp_path: Path, live: dict[tuple[str, str], dict[str, str]],
                    values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with FakeApiServer(live) as api:
        result = subprocess.run(
            [str(helm.path), "template", "rhdemo", str(CHART), "--namespace", NS, "--dry-run=server",
             "--disable-openapi-validation", "--kubeconfig", str(api.kubeconfig(tmp_path)), *set_args(values or {})],
            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def _secret(docs: list[dict[str, Any]], name: str, key: str = "password") -> str:
    return base64.b64decode(find(docs, "Secret", name)["data"][key]).decode()


def _pod_annotation(docs: list[dict[str, Any]], kind: str, name: str, key: str) -> str:
    return find(docs, kind, name)["spec"]["template"]["metadata"]["annotations"][key]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_upgrade_after_kubectl_apply_keeps_the_rotated_password_and_rolls_the_pods(helm: Helm, tmp_path: Path) -> None:
    live = {(NS, "rhdemo-db-secret"): {"password": "new-password-123"},
            (NS, "keycloak-db-secret"): {"password": "kc-live"},
            (NS, "keycloak-admin-secret"): {"username": "admin", "password": "admin-live"}}
    docs = _render_against(helm, tmp_path, live)
    # Rendering the live value: Helm 3's three-way merge has nothing to revert, Helm 4's server-side
    # apply nothing to conflict on.
    assert _secret(docs, "rhdemo-db-secret") == "new-password-123"
    assert _secret(docs, "keycloak-db-secret") == "kc-live"
    assert _secret(docs, "keycloak-admin-secret") == "admin-live"
    # The pods' checksums follow the live value, so this upgrade rolls the app and the database pod.
    assert _pod_annotation(docs, "Deployment", "rhdemo-app", "checksum/secret") == _sha("new-password-123")
    assert _pod_annotation(docs, "StatefulSet", "postgresql-rhdemo", "checksum/password") == _sha("new-password-123")
    assert _pod_annotation(docs, "Deployment", "keycloak", "checksum/db-secret") == _sha("kc-live")


def test_a_password_in_values_wins_over_the_live_secret(helm: Helm, tmp_path: Path) -> None:
    """A rotation through Helm: the value given replaces the live one."""
    docs = _render_against(helm, tmp_path, {(NS, "rhdemo-db-secret"): {"password": "old-live"}},
                           {"postgresql-rhdemo.database.password": "through-helm"})
    assert _secret(docs, "rhdemo-db-secret") == "through-helm"
    assert _pod_annotation(docs, "Deployment", "rhdemo-app", "checksum/secret") == _sha("through-helm")


def test_first_install_generates_one_password_used_everywhere(helm: Helm, tmp_path: Path) -> None:
    docs = _render_against(helm, tmp_path, {})
    generated = _secret(docs, "rhdemo-db-secret")
    assert len(generated) == 24 and generated.isalnum()
    assert _pod_annotation(docs, "Deployment", "rhdemo-app", "checksum/secret") == _sha(generated)
    assert _pod_annotation(docs, "StatefulSet", "postgresql-rhdemo", "checksum/password") == _sha(generated)
    assert _secret(docs, "keycloak-db-secret") != generated


def test_an_external_secret_is_not_rendered_but_still_rolls_the_pods(helm: Helm, tmp_path: Path) -> None:
    values = {"postgresql-rhdemo.database.passwordSecret.create": False}
    docs = _render_against(helm, tmp_path, {(NS, "rhdemo-db-secret"): {"password": "managed-elsewhere"}}, values)
    assert not [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "rhdemo-db-secret"]
    assert _pod_annotation(docs, "Deployment", "rhdemo-app", "checksum/secret") == _sha("managed-elsewhere")
    assert _pod_annotation(docs, "StatefulSet", "postgresql-rhdemo", "checksum/password") == _sha("managed-elsewhere")
