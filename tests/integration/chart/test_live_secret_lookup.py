"""What the chart does with a Secret that already lives in the cluster (the seed's Test 3:
`kubectl apply` of rhdemo-db-secret, then `helm upgrade`). Rendered by the real helm with
`--dry-run=server` against a stand-in API server that serves the live Secret to the chart's `lookup`."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.chart.chartlib import CHART, Helm, find, set_args
from tests.integration.chart.fakeapi import FakeApiServer

pytestmark = pytest.mark.integration

NS = "rhdemo-stagingkub"


def _run_against(helm: Helm, tmp_path: Path, live: dict[tuple[str, str], dict[str, str]],
                 values: dict[str, Any] | None = None, namespaces: tuple[str, ...] = (),
                 deployments: dict[tuple[str, str], dict[str, str]] | None = None) -> subprocess.CompletedProcess[str]:
    with FakeApiServer(live, namespaces=namespaces, deployments=deployments) as api:
        return subprocess.run(
            [str(helm.path), "template", "rhdemo", str(CHART), "--namespace", NS, "--dry-run=server",
             "--disable-openapi-validation", "--kubeconfig", str(api.kubeconfig(tmp_path)), *set_args(values or {})],
            capture_output=True, text=True)


def _render_against(helm: Helm, tmp_path: Path, live: dict[tuple[str, str], dict[str, str]],
                    values: dict[str, Any] | None = None, namespaces: tuple[str, ...] = (),
                    deployments: dict[tuple[str, str], dict[str, str]] | None = None) -> list[dict[str, Any]]:
    result = _run_against(helm, tmp_path, live, values, namespaces, deployments)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def _secret(docs: list[dict[str, Any]], name: str, key: str = "password") -> str:
    return base64.b64decode(find(docs, "Secret", name)["data"][key]).decode()


def _pod_annotation(docs: list[dict[str, Any]], kind: str, name: str, key: str) -> str:
    return find(docs, kind, name)["spec"]["template"]["metadata"]["annotations"][key]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _checksums(docs: list[dict[str, Any]]) -> dict[str, str]:
    return {"app": _pod_annotation(docs, "Deployment", "rhdemo-app", "checksum/secret"),
            "db": _pod_annotation(docs, "StatefulSet", "postgresql-rhdemo", "checksum/password"),
            "keycloak": _pod_annotation(docs, "Deployment", "keycloak", "checksum/db-secret"),
            "keycloak-db": _pod_annotation(docs, "StatefulSet", "postgresql-keycloak", "checksum/password")}


LIVE_KEY = {(NS, "rhdemo-checksum-key"): {"key": "live-random-key-0123456789"}}


def test_upgrade_after_kubectl_apply_keeps_the_rotated_password_and_rolls_the_pods(helm: Helm, tmp_path: Path) -> None:
    live = {(NS, "rhdemo-db-secret"): {"password": "new-password-123"},
            (NS, "keycloak-db-secret"): {"password": "kc-live"},
            (NS, "keycloak-admin-secret"): {"username": "admin", "password": "admin-live"}, **LIVE_KEY}
    docs = _render_against(helm, tmp_path, live)
    # Rendering the live value: Helm 3's three-way merge has nothing to revert, Helm 4's server-side
    # apply nothing to conflict on.
    assert _secret(docs, "rhdemo-db-secret") == "new-password-123"
    assert _secret(docs, "keycloak-db-secret") == "kc-live"
    assert _secret(docs, "keycloak-admin-secret") == "admin-live"
    # The pods' checksums follow the live value, so this upgrade rolls the app and the database pod.
    before = _checksums(_render_against(helm, tmp_path, {**live, (NS, "rhdemo-db-secret"): {"password": "A-old"}}))
    after = _checksums(docs)
    assert {k for k in after if after[k] != before[k]} == {"app", "db"}
    assert after["app"] == after["db"]


def test_checksum_annotations_reveal_nothing_and_change_only_with_the_password(helm: Helm, tmp_path: Path) -> None:
    """A reader of pods (the `view` role) sees the annotations: they are keyed digests, not
    SHA-256 of the password, and the key survives upgrades (kept in rhdemo-checksum-key)."""
    live = {(NS, "rhdemo-db-secret"): {"password": "Summer2024!"}, (NS, "keycloak-db-secret"): {"password": "kc-live"},
            **LIVE_KEY}
    first = _render_against(helm, tmp_path, live)
    again = _render_against(helm, tmp_path, live)
    sums = _checksums(first)
    assert sums == _checksums(again), "an unchanged upgrade must not roll any pod"
    assert _secret(first, "rhdemo-checksum-key", "key") == "live-random-key-0123456789"
    assert sums["app"] != _sha("Summer2024!") and sums["keycloak"] != _sha("kc-live")
    for text in ("Summer2024!", "kc-live", "live-random-key-0123456789"):
        assert text not in json.dumps([d for d in first if d["kind"] != "Secret"])
    rotated = _checksums(_render_against(helm, tmp_path, live, {"postgresql-rhdemo.database.password": "Winter2025!"}))
    assert {k for k in sums if sums[k] != rotated[k]} == {"app", "db"}


def test_an_emptied_checksum_key_is_replaced_not_used(helm: Helm, tmp_path: Path) -> None:
    live = {(NS, "rhdemo-db-secret"): {"password": "Summer2024!"}, (NS, "rhdemo-checksum-key"): {"key": ""}}
    docs = _render_against(helm, tmp_path, live)
    key = _secret(docs, "rhdemo-checksum-key", "key")
    assert len(key) == 24
    assert _checksums(docs)["app"] == _sha(f"{key}:Summer2024!") != _sha(":Summer2024!")


def test_first_install_generates_one_password_and_one_key_used_everywhere(helm: Helm, tmp_path: Path) -> None:
    docs = _render_against(helm, tmp_path, {})
    generated = _secret(docs, "rhdemo-db-secret")
    assert len(generated) == 24 and generated.isalnum()
    key = _secret(docs, "rhdemo-checksum-key", "key")
    assert len(key) == 24 and key not in (generated, _secret(docs, "keycloak-db-secret"))
    sums = _checksums(docs)
    assert sums["app"] == sums["db"] != _sha(generated)
    assert _secret(docs, "keycloak-db-secret") != generated


def test_an_external_secret_is_not_rendered_but_still_rolls_the_pods(helm: Helm, tmp_path: Path) -> None:
    """External Secret: the digest of its uid and resourceVersion (changes when it is written)."""
    values = {"postgresql-rhdemo.database.passwordSecret.create": False}
    live = {(NS, "rhdemo-db-secret"): {"password": "managed-elsewhere"},
            (NS, "keycloak-db-secret"): {"password": "kc-live"}, **LIVE_KEY}
    docs = _render_against(helm, tmp_path, live, values, namespaces=(NS,))
    assert not [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "rhdemo-db-secret"]
    sums = _checksums(docs)
    assert sums["app"] == sums["db"] != _sha("managed-elsewhere")
    assert sums == _checksums(_render_against(helm, tmp_path, live, values, namespaces=(NS,)))
    rotated = _checksums(_render_against(helm, tmp_path, {**live, (NS, "rhdemo-db-secret"): {"password": "rotated"}},
                                         values, namespaces=(NS,)))
    assert {k for k in sums if sums[k] != rotated[k]} == {"app", "db"}


@pytest.mark.parametrize(("live", "message"), [
    ({}, "Secret rhdemo-stagingkub/rhdemo-db-secret not found: with passwordSecret.create=false it must exist"),
    ({(NS, "rhdemo-db-secret"): {"password": ""}}, 'Secret rhdemo-stagingkub/rhdemo-db-secret: key "password" is missing or empty'),
    ({(NS, "rhdemo-db-secret"): {"pwd": "x"}}, 'Secret rhdemo-stagingkub/rhdemo-db-secret: key "password" is missing or empty'),
], ids=["missing", "empty", "other-key"])
def test_a_missing_or_empty_external_secret_fails_the_render(
        helm: Helm, tmp_path: Path, live: dict[tuple[str, str], dict[str, str]], message: str) -> None:
    values = {"postgresql-rhdemo.database.passwordSecret.create": False}
    result = _run_against(helm, tmp_path, live, values, namespaces=(NS,))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    # Without a cluster (helm template) nothing can be looked up: it renders, the pods say the rest.
    offline = subprocess.run([str(helm.path), "template", "rhdemo", str(CHART), "--namespace", NS, *set_args(values)],
                             capture_output=True, text=True)
    assert offline.returncode == 0, offline.stderr
    assert "checksum/secret: not-looked-up" in offline.stdout


def _env(docs: list[dict[str, Any]], kind: str, name: str, container: str, variable: str) -> dict[str, Any]:
    spec = find(docs, kind, name)["spec"]["template"]["spec"]
    found = next(c for c in [*spec.get("initContainers", []), *spec["containers"]] if c["name"] == container)
    return next(e for e in found["env"] if e["name"] == variable)


def test_alternating_keeps_the_login_the_live_deployments_use(helm: Helm, tmp_path: Path) -> None:
    """`helm upgrade` after password-rotation switched the app to rhdemo_green and Keycloak to keycloak_blue:
    the chart renders those logins (Helm 3's three-way merge has nothing to revert, Helm 4's server-side apply
    the same value), its Jobs log in as them, and the pods read theirs from their own annotation."""
    values = {"passwordSync.mode": "alternating", "keycloak.enabled": True, "migrations.mode": "flyway-job"}
    live = {(NS, "rhdemo-db-secret"): {"password": "B"}, (NS, "keycloak-db-secret"): {"password": "KB"}}
    switched = {(NS, "rhdemo-app"): {"rhdemo.io/db-login": "rhdemo_green"},
                (NS, "keycloak"): {"rhdemo.io/db-login": "keycloak_blue"}}
    docs = _render_against(helm, tmp_path, live, values, deployments=switched)
    assert _pod_annotation(docs, "Deployment", "rhdemo-app", "rhdemo.io/db-login") == "rhdemo_green"
    assert _pod_annotation(docs, "Deployment", "keycloak", "rhdemo.io/db-login") == "keycloak_blue"
    from_annotation = {"valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['rhdemo.io/db-login']"}}}
    assert _env(docs, "Deployment", "rhdemo-app", "rhdemo-app", "SPRING_DATASOURCE_USERNAME") == \
        {"name": "SPRING_DATASOURCE_USERNAME", **from_annotation}
    assert _env(docs, "Deployment", "rhdemo-app", "wait-for-db", "PGUSER") == {"name": "PGUSER", **from_annotation}
    assert _env(docs, "Deployment", "keycloak", "keycloak", "KC_DB_USERNAME") == {"name": "KC_DB_USERNAME", **from_annotation}
    flyway = next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"].startswith("flyway-migration"))
    assert {"name": "FLYWAY_USER", "value": "rhdemo_green"} in flyway["spec"]["template"]["spec"]["containers"][0]["env"]
    # a rotation never restarts the database pods, nor rolls the app by itself (password-rotation does)
    for kind, name in (("StatefulSet", "postgresql-rhdemo"), ("StatefulSet", "postgresql-keycloak"),
                       ("Deployment", "rhdemo-app"), ("Deployment", "keycloak")):
        annotations = find(docs, kind, name)["spec"]["template"]["metadata"]["annotations"]
        assert not {"checksum/password", "checksum/secret", "checksum/db-secret"} & set(annotations), (name, annotations)

    first = _render_against(helm, tmp_path, live, values)  # no live Deployment: a first install
    assert _pod_annotation(first, "Deployment", "rhdemo-app", "rhdemo.io/db-login") == "rhdemo"
    assert _pod_annotation(first, "Deployment", "keycloak", "rhdemo.io/db-login") == "keycloak"


def test_alternating_grants_the_rotation_container_one_deployment_and_its_token_only(helm: Helm, tmp_path: Path) -> None:
    docs = _render_against(helm, tmp_path, {(NS, "rhdemo-db-secret"): {"password": "B"}},
                           {"passwordSync.mode": "alternating"})
    role = find(docs, "Role", "postgresql-rhdemo-password-rotation")
    assert role["rules"] == [
        {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["rhdemo-app"], "verbs": ["get", "patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    binding = find(docs, "RoleBinding", "postgresql-rhdemo-password-rotation")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "postgresql-rhdemo-password-rotation",
                                    "namespace": NS}]
    pod = find(docs, "StatefulSet", "postgresql-rhdemo")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "postgresql-rhdemo-password-rotation"
    assert pod["automountServiceAccountToken"] is False
    holders = {c["name"] for c in pod["containers"]
               if any(m["name"] == "api-access" for m in c.get("volumeMounts", []))}
    assert holders == {"password-rotation"}
    rotation = next(c for c in pod["containers"] if c["name"] == "password-rotation")
    assert not any(m["name"] in ("password", "run") for m in rotation["volumeMounts"]), "no Secret, no socket"
