"""The chart with the real helm (3 and 4): lint, render every mode combination, validate every object
against the Kubernetes 1.34 OpenAPI schema (kubernetes-validate, offline), and check the promises
the scenarios rely on (seed names, hook phases, checksums, secure defaults, no secret outside Secrets)."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.integration.chart.chartlib import (
    CHART, FIXED_PASSWORDS, KUBERNETES_VERSION, LOCAL_IMAGE_SET, MIGRATION_MODES, PASSWORD_SYNC_MODES,
    Helm, container, find, names, pod_spec, render, set_args,
)
from tests.integration.chart.fakeapi import FakeApiServer

pytestmark = pytest.mark.integration

COMBINATIONS = list(itertools.product(PASSWORD_SYNC_MODES, MIGRATION_MODES, (True, False)))

LINT_VALUE_SETS: list[dict[str, Any]] = (
    [{}]
    + [{"passwordSync.mode": m} for m in PASSWORD_SYNC_MODES]
    + [{"migrations.mode": m} for m in MIGRATION_MODES]
    + [{"keycloak.enabled": False}, {"tests.enabled": False},
       {"passwordSync.mode": "seed", "passwordSync.hookEvents": "pre-install,pre-upgrade"},
       {"migrations.mode": "sql-job", "migrations.hookEvents": "pre-install,pre-upgrade"}]
)


@pytest.mark.parametrize("values", LINT_VALUE_SETS, ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) or "default")
def test_helm_lint_strict(helm: Helm, values: dict[str, Any]) -> None:
    result = subprocess.run([str(helm.path), "lint", "--strict", str(CHART), *set_args(values)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_helm_lint_strict_local_image_set(helm: Helm) -> None:
    result = subprocess.run([str(helm.path), "lint", "--strict", str(CHART), "-f", str(LOCAL_IMAGE_SET)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


_validated: set[str] = set()  # digests of objects already validated (the matrix repeats most objects)


def _validate(obj: dict[str, Any]) -> None:
    digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
    if digest in _validated:
        return
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        first_line = str(error).splitlines()[0]
        raise AssertionError(f"{obj['kind']} {obj['metadata']['name']}: {first_line}") from None
    _validated.add(digest)


@pytest.mark.parametrize(("sync", "migrations", "keycloak"), COMBINATIONS,
                         ids=[f"{s}-{m}-{'kc' if k else 'nokc'}" for s, m, k in COMBINATIONS])
def test_every_combination_renders_valid_objects(helm: Helm, sync: str, migrations: str, keycloak: bool) -> None:
    values = {"passwordSync.mode": sync, "migrations.mode": migrations, "keycloak.enabled": keycloak}
    for obj in render(helm, values, upgrade=True):  # hooks differ between install and upgrade
        _validate(obj)
    docs = render(helm, values)
    for obj in docs:
        _validate(obj)
    kinds = names(docs)
    # The seed's object names.
    assert {("StatefulSet", "postgresql-rhdemo"), ("Service", "postgresql-rhdemo"),
            ("ConfigMap", "postgresql-rhdemo-init"), ("Secret", "rhdemo-db-secret"),
            ("Deployment", "rhdemo-app")} <= kinds
    assert (("Deployment", "keycloak") in kinds) == keycloak
    assert (("StatefulSet", "postgresql-keycloak") in kinds) == keycloak
    sync_jobs = {n for k, n in kinds if k == "Job" and "password-sync" in n}
    expected_sync = set() if sync == "none" else (
        {"postgresql-rhdemo-password-sync-1"} | ({"postgresql-keycloak-password-sync-1"} if keycloak else set()))
    assert sync_jobs == expected_sync
    migration_objects = {(k, n) for k, n in kinds if "migration" in n}
    expected_migration = {
        "sql-job": {("Job", "schema-migration-1"), ("ConfigMap", "schema-migrations")},
        "flyway-job": {("Job", "flyway-migration-1"), ("ConfigMap", "flyway-migrations")},
    }.get(migrations, set())
    assert migration_objects == expected_migration
    app = find(docs, "Deployment", "rhdemo-app")
    init_names = [c["name"] for c in pod_spec(app).get("initContainers", [])]
    assert init_names[0] == "wait-for-db"
    assert ("wait-for-keycloak" in init_names) == keycloak
    assert ("init-schema" in init_names) == (migrations == "init-container")
    assert ("wait-for-schema" in init_names) == (migrations in ("sql-job", "flyway-job"))
    db_pod = pod_spec(find(docs, "StatefulSet", "postgresql-rhdemo"))
    assert ("password-sync" in [c["name"] for c in db_pod["containers"]]) == (sync == "robust")


def test_helm_3_and_4_render_the_same_objects(helm: Helm) -> None:
    """Whatever helm runs the lab, the cluster gets the same objects (compared with the first helm found)."""
    from tests.integration.chart.chartlib import find_helm_binaries
    reference = find_helm_binaries()[0]
    for values in ({}, {"passwordSync.mode": "seed", "migrations.mode": "sql-job"}):
        assert render(helm, values) == render(reference, values)


def _hook(obj: dict[str, Any]) -> str:
    return obj["metadata"].get("annotations", {}).get("helm.sh/hook", "")


@pytest.mark.parametrize("migrations", ["sql-job", "flyway-job"])
def test_default_hooks_never_wait_for_what_the_release_has_not_created(helm: Helm, migrations: str) -> None:
    """A pre-install hook waiting for the release's database deadlocks; so does a post-install hook
    under `helm install --wait` when the app needs its work. By default: on install the migration
    Job is a regular resource (created with the database, it waits for it) and the app waits for the
    schema; on upgrade it is a pre-upgrade hook (the schema is migrated before the app rolls)."""
    job_name = f"{'schema' if migrations == 'sql-job' else 'flyway'}-migration-1"
    configmap_name = "schema-migrations" if migrations == "sql-job" else "flyway-migrations"
    for upgrade in (False, True):
        docs = render(helm, {"migrations.mode": migrations}, upgrade=upgrade)
        hooks = [d for d in docs if _hook(d) and _hook(d) != "test"]
        for obj in hooks:
            if obj["kind"] == "Job":
                assert "pre-install" not in _hook(obj).split(","), obj["metadata"]["name"]
            assert "ttlSecondsAfterFinished" not in obj.get("spec", {}), obj["metadata"]["name"]
        job = find(docs, "Job", job_name)
        assert _hook(job) == ("pre-upgrade" if upgrade else "")
        assert _hook(find(docs, "Job", "postgresql-rhdemo-password-sync-1")) == "post-install,post-upgrade"
        # The migration files need no database: a pre-install,pre-upgrade hook, created before the
        # Job in both phases, so a pre-upgrade Job reads the NEW files (regular resources are updated
        # only after the pre-upgrade hooks).
        configmap = find(docs, "ConfigMap", configmap_name)
        assert _hook(configmap) == "pre-install,pre-upgrade"
        assert int(configmap["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0
        # Failed hook Jobs stay for inspection; succeeded ones are cleaned up.
        for obj in hooks:
            if obj["kind"] == "Job":
                assert obj["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
        app_init = [c["name"] for c in pod_spec(find(docs, "Deployment", "rhdemo-app"))["initContainers"]]
        assert "wait-for-schema" in app_init


def test_seed_mode_is_the_analysis_job(helm: Helm) -> None:
    docs = render(helm, {"passwordSync.mode": "seed"})
    job = find(docs, "Job", "postgresql-rhdemo-password-sync-1")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-upgrade,pre-install"
    assert annotations["helm.sh/hook-weight"] == "-5"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert job["spec"]["ttlSecondsAfterFinished"] == 300
    env = {e["name"]: e for e in container(job, "sync-password")["env"]}
    # The seed's flaw: the login password IS the new password (same Secret key).
    assert env["PGPASSWORD"]["valueFrom"] == env["NEW_PASSWORD"]["valueFrom"]
    assert [c["name"] for c in pod_spec(job)["initContainers"]] == ["wait-for-db"]
    assert find(docs, "Job", "postgresql-keycloak-password-sync-1")


def test_hook_events_reproduce_the_pre_install_deadlock(helm: Helm) -> None:
    docs = render(helm, {"passwordSync.hookEvents": "pre-install,pre-upgrade",
                         "migrations.mode": "sql-job", "migrations.hookEvents": "pre-install,pre-upgrade"})
    for name in ("postgresql-rhdemo-password-sync-1", "schema-migration-1"):
        assert _hook(find(docs, "Job", name)) == "pre-install,pre-upgrade"
    upgraded = render(helm, {"migrations.mode": "sql-job", "migrations.hookEvents": "post-install,pre-upgrade"}, upgrade=True)
    assert _hook(find(upgraded, "Job", "schema-migration-1")) == "post-install,pre-upgrade"


def _checksums(docs: list[dict[str, Any]]) -> dict[str, str]:
    out = {}
    for kind, name in (("Deployment", "rhdemo-app"), ("StatefulSet", "postgresql-rhdemo"),
                       ("Deployment", "keycloak"), ("StatefulSet", "postgresql-keycloak")):
        annotations = find(docs, kind, name)["spec"]["template"]["metadata"].get("annotations", {})
        out.update({f"{name}/{k}": v for k, v in annotations.items() if k.startswith("checksum/")})
    return out


def test_pods_roll_when_their_password_or_config_changes_and_only_then(helm: Helm) -> None:
    base = _checksums(render(helm))
    assert base == _checksums(render(helm)), "an unchanged upgrade must not roll any pod"
    rotated = _checksums(render(helm, {"postgresql-rhdemo.database.password": "B-new-password"}))
    changed = {k for k in base if base[k] != rotated[k]}
    assert changed == {"rhdemo-app/checksum/secret", "postgresql-rhdemo/checksum/password"}
    assert base["rhdemo-app/checksum/secret"] != hashlib.sha256(b"rhdemo-test-pw").hexdigest()  # keyed
    ddl = _checksums(render(helm, {"migrations.mode": "hibernate-update"}))
    assert {k for k in base if base[k] != ddl[k]} == {"rhdemo-app/checksum/config"}


def test_app_configuration_follows_the_migration_mode(helm: Helm) -> None:
    expected = {"app-flyway": ("validate", True), "hibernate-update": ("update", False),
                "none": ("validate", False), "sql-job": ("validate", False)}
    for mode, (ddl_auto, flyway) in expected.items():
        docs = render(helm, {"migrations.mode": mode})
        config = yaml.safe_load(find(docs, "ConfigMap", "rhdemo-app-config")["data"]["application-stagingkub.yml"])
        assert config["spring"]["jpa"]["hibernate"]["ddl-auto"] == ddl_auto
        assert config["spring"]["flyway"]["enabled"] is flyway
        env = {e["name"]: e.get("value") for e in container(find(docs, "Deployment", "rhdemo-app"), "rhdemo-app")["env"]}
        assert env["SPRING_FLYWAY_ENABLED"] == str(flyway).lower()
        assert env["SPRING_PROFILES_ACTIVE"] == "stagingkub"


def test_secure_defaults_everywhere(helm: Helm) -> None:
    docs = render(helm, {"migrations.mode": "sql-job"}) + render(helm, {"migrations.mode": "flyway-job"})
    for obj in docs:
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job", "Pod"):
            continue
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        for c in spec.get("initContainers", []) + spec["containers"]:
            where = f"{obj['metadata']['name']}/{c['name']}"
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], where
            assert c["resources"]["requests"] and c["resources"]["limits"], where
            assert not c["image"].endswith(":latest"), where


def test_passwords_only_in_secrets(helm: Helm) -> None:
    for values in ({}, {"passwordSync.mode": "seed", "migrations.mode": "sql-job"},
                   {"migrations.mode": "init-container"}, {"migrations.mode": "flyway-job"}):
        for obj in render(helm, values):
            if obj["kind"] == "Secret":
                continue
            text = json.dumps(obj, ensure_ascii=False)
            for password in FIXED_PASSWORDS.values():
                assert password not in text, f"{password} in {obj['kind']} {obj['metadata']['name']}"


def test_global_image_registry_and_local_image_set(helm: Helm) -> None:
    docs = render(helm, {"global.imageRegistry": "mirror.example:5000", "migrations.mode": "flyway-job"})
    images = {c["image"] for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job", "Pod")
              for c in pod_spec(d).get("initContainers", []) + pod_spec(d)["containers"]}
    assert images and all(i.startswith("mirror.example:5000/") for i in images), images
    docs = render(helm, {"migrations.mode": "flyway-job"}, files=[LOCAL_IMAGE_SET])
    images = {c["image"] for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job", "Pod")
              for c in pod_spec(d).get("initContainers", []) + pod_spec(d)["containers"]}
    assert {i.rsplit(":", 1)[0] for i in images} == {
        "localhost/rhdemo-lab/postgres", "localhost/rhdemo-lab/flyway",
        "localhost/rhdemo-lab/keycloak", "localhost/rhdemo-lab/rhdemo-app"}


@pytest.mark.parametrize(("values", "message"), [
    ({"passwordSync.mode": "robustt"}, "/passwordSync/mode"),
    ({"migrations.mode": "flyway"}, "/migrations/mode"),
    ({"migrations.hookEvents": "pre-instal"}, "/migrations/hookEvents"),
    ({"passwordsync.mode": "seed"}, "'passwordsync' not allowed"),
    ({"rhdemo.jpa.ddlAuto": "updat"}, "/rhdemo/jpa/ddlAuto"),
    ({"rhdemo.image.tag": "latest"}, "the tag 'latest' is refused"),
    ({"rhdemo.resources.limits": None}, "/rhdemo/resources"),
])
def test_wrong_values_fail_with_a_readable_message(helm: Helm, values: dict[str, Any], message: str) -> None:
    result = subprocess.run([str(helm.path), "template", "rhdemo", str(CHART), *set_args(values)],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_notes_tell_how_to_reach_the_app_without_printing_the_password(helm: Helm, tmp_path: Path) -> None:
    with FakeApiServer() as api:
        result = subprocess.run([str(helm.path), "install", "rhdemo", str(CHART), "--dry-run=client",
                             "--kubeconfig", str(api.kubeconfig(tmp_path)), "--disable-openapi-validation",
                             "--namespace", "rhdemo-stagingkub", *set_args(FIXED_PASSWORDS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "kubectl port-forward -n rhdemo-stagingkub svc/rhdemo-app" in notes
    assert "kubectl get secret rhdemo-db-secret" in notes
    for password in FIXED_PASSWORDS.values():
        assert password not in notes


def test_embedded_scripts_are_posix_and_shellcheck_clean() -> None:
    """The scripts run under busybox ash (alpine) and dash (Debian): POSIX sh, checked by shellcheck."""
    import shutil
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        pytest.fail("shellcheck not found: apt-get install -y --no-install-recommends shellcheck")
    scripts = sorted((CHART / "files").glob("*.sh"))
    assert scripts
    result = subprocess.run([shellcheck, "--shell=sh", "--severity=style", *map(str, scripts)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
