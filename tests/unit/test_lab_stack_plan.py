"""What `up` must change, given the desired and the actual state (pure decisions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cluster import ClusterState, PortMapping, desired_port_mappings, images_to_load, kind_config, plan_cluster
from lab.config import LabConfig
from lab.helm import DeployedRelease, plan_release
from lab.kube import HookJob, PodState, Workload, WorkloadState, component_of, workloads_in_manifest
from lab.stack import component_lines, desired_release, failing_objects, lab_values, password_command
from lab.images import app_images

CONFIG = LabConfig()
GOOD = ClusterState(exists=True, container_exists=True, running=True, node_image="kindest/node:x",
                    node_image_id="sha256:node", port_mappings=desired_port_mappings(CONFIG), api_healthy=True,
                    has_volumes=True)


def replace(state: ClusterState, **changes: object) -> ClusterState:
    from dataclasses import replace as dc_replace

    return dc_replace(state, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("state, node_image_id, recreate, action", [
    (ClusterState(exists=False), None, False, "create"),
    (GOOD, None, False, "none"),
    (GOOD, "sha256:node", False, "none"),
    (replace(GOOD, running=False, api_healthy=False), None, False, "start"),
    (replace(GOOD, api_healthy=False, has_volumes=False), None, False, "recreate"),  # interrupted create
    (replace(GOOD, api_healthy=False), None, False, "refuse"),  # data at stake: say so
    (replace(GOOD, api_healthy=False), None, True, "recreate"),
    (replace(GOOD, port_mappings=frozenset()), None, False, "refuse"),
    (replace(GOOD, port_mappings=frozenset(), has_volumes=False), None, False, "recreate"),
    (replace(GOOD, exists=False), None, False, "recreate"),  # a node container kind forgot
])
def test_cluster_plan(state: ClusterState, node_image_id: str | None, recreate: bool, action: str) -> None:
    assert plan_cluster(CONFIG, state, node_image_id, recreate).action == action


def test_a_different_node_image_is_a_config_difference() -> None:
    config = LabConfig(node_image="localhost/rhdemo-lab/kind-node:v1.34.4")
    plan = plan_cluster(config, GOOD, "sha256:other", False)
    assert plan.action == "refuse" and "node image" in plan.reasons[0]
    assert plan_cluster(config, GOOD, "sha256:node", False).action == "none"


def test_a_node_image_rebuilt_under_the_same_tag_is_said_so() -> None:
    config = LabConfig(node_image="localhost/rhdemo-lab/kind-node:v1.34.4")
    running = replace(GOOD, node_image="localhost/rhdemo-lab/kind-node:v1.34.4", node_image_id="sha256:0123456789abcdef")
    plan = plan_cluster(config, running, "sha256:fedcba9876543210", False)
    assert plan.action == "refuse"
    assert plan.reasons[0] == ("node image localhost/rhdemo-lab/kind-node:v1.34.4 was rebuilt since the cluster "
                               "was created (running 0123456789ab, now fedcba987654)")


def test_kind_config_maps_localhost_ports_to_the_node_ports() -> None:
    config = LabConfig(app_host_port=18080)
    mappings = kind_config(config)["nodes"][0]["extraPortMappings"]
    assert {(m["hostPort"], m["containerPort"], m["listenAddress"]) for m in mappings} == \
        {(18080, 30080, "127.0.0.1"), (9000, 30900, "127.0.0.1")}
    assert desired_port_mappings(config) == {PortMapping(30080, 18080), PortMapping(30900, 9000)}


def test_images_load_only_when_the_node_lacks_that_image_id() -> None:
    wanted = {"localhost/rhdemo-lab/rhdemo-app:1.0-aaa": "sha256:a", "localhost/rhdemo-lab/rhdemo-app:1.1-bbb": "sha256:b",
              "postgres:16-alpine": "sha256:p", "localhost/rhdemo-lab/keycloak:26.5.6": "sha256:k"}
    in_node = {"localhost/rhdemo-lab/rhdemo-app:1.0-aaa": "sha256:a",  # same: skip
               "localhost/rhdemo-lab/rhdemo-app:1.1-bbb": "sha256:OLD",  # same name, other content: load
               "docker.io/library/postgres:16-alpine": "sha256:p"}  # containerd's full name: skip
    assert images_to_load(wanted, in_node) == ["localhost/rhdemo-lab/rhdemo-app:1.1-bbb",
                                                "localhost/rhdemo-lab/keycloak:26.5.6"]
    assert images_to_load(wanted, {**in_node, "localhost/rhdemo-lab/rhdemo-app:1.1-bbb": "sha256:b",
                                   "localhost/rhdemo-lab/keycloak:26.5.6": "sha256:k"}) == []


@pytest.fixture
def repo(tmp_path: Path) -> LabConfig:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: rhdemo\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("rhdemo:\n  database:\n    passwordSecret:\n      name: rhdemo-db-secret\n"
                                       "      key: password\n")
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "Dockerfile").write_text("FROM scratch\n")
    return LabConfig(chart_path=chart, app_stub_path=stub)


def test_nothing_changed_means_the_same_fingerprint_and_no_new_revision(repo: LabConfig) -> None:
    image = app_images(repo)[0]
    first, second = desired_release(repo, image), desired_release(repo, image)
    assert first.fingerprint == second.fingerprint
    deployed = DeployedRelease(2, "deployed", {"lab-fingerprint": first.fingerprint})
    assert plan_release(deployed, second.fingerprint).action == "none"


def test_values_chart_or_image_changes_mean_an_upgrade(repo: LabConfig, tmp_path: Path) -> None:
    image = app_images(repo)[0]
    base = desired_release(repo, image).fingerprint
    extra = tmp_path / "extra.yaml"
    extra.write_text("rhdemo:\n  replicaCount: 2\n")
    with_file = LabConfig(chart_path=repo.chart_path, app_stub_path=repo.app_stub_path, values_files=(extra,))
    with_set = LabConfig(chart_path=repo.chart_path, app_stub_path=repo.app_stub_path,
                         set_values=(("rhdemo.replicaCount", "2"),))
    assert desired_release(with_file, image).fingerprint != base
    assert desired_release(with_set, image).user_values == desired_release(with_file, image).user_values
    assert desired_release(repo, app_images(repo)[1]).fingerprint != base  # app 1.1
    (repo.chart_path / "templates" / "new.yaml").write_text("kind: ConfigMap\n")
    assert desired_release(repo, image).fingerprint != base


def test_lab_values_expose_the_app_on_node_ports(repo: LabConfig) -> None:
    values = lab_values(repo, app_images(repo)[0])
    assert values["rhdemo"]["service"] == {"type": "NodePort", "nodePort": 30080, "managementNodePort": 30900}
    assert values["global"]["namespace"] == "rhdemo-stagingkub"
    assert values["rhdemo"]["image"]["tag"].startswith("1.0-")


def test_a_missing_values_file_is_a_lab_error(repo: LabConfig, tmp_path: Path) -> None:
    from lab.errors import LabError

    config = LabConfig(chart_path=repo.chart_path, app_stub_path=repo.app_stub_path,
                       values_files=(tmp_path / "nope.yaml",))
    with pytest.raises(LabError, match="does not exist"):
        desired_release(config, app_images(config)[0])


def test_password_command_never_contains_a_password(repo: LabConfig) -> None:
    command = password_command(repo, {"postgresql-rhdemo": {"database": {"password": "hunter2"}}},
                               {"postgresql-rhdemo": {"database": {"passwordSecret": {"name": "rhdemo-db-secret",
                                                                                      "key": "password"}}}})
    assert "hunter2" not in command
    assert command.startswith("kubectl --context kind-rhdemo-lab -n rhdemo-stagingkub get secret rhdemo-db-secret")


def test_password_command_names_the_secret_the_chart_uses(repo: LabConfig) -> None:
    """The app's database settings come from `postgresql-rhdemo` (the chart's one place for them)."""
    command = password_command(repo, {"postgresql-rhdemo": {"database": {"passwordSecret": {"name": "vault-db",
                                                                                             "key": "pw"}}}}, {})
    assert "get secret vault-db -o jsonpath='{.data.pw}'" in command


def test_components_and_workloads_from_the_manifest() -> None:
    manifest = """---
kind: Service
metadata: {name: rhdemo-app}
---
kind: StatefulSet
metadata: {name: postgresql-rhdemo}
---
kind: StatefulSet
metadata: {name: postgresql-keycloak}
---
kind: Deployment
metadata: {name: keycloak}
---
kind: Deployment
metadata: {name: rhdemo-app}
"""
    workloads = workloads_in_manifest(manifest)
    assert [(w.ref, w.component) for w in workloads] == [
        ("statefulset/postgresql-rhdemo", "database"), ("statefulset/postgresql-keycloak", "database-keycloak"),
        ("deployment/keycloak", "keycloak"), ("deployment/rhdemo-app", "app")]
    assert component_of("rhdemo-app") == "app"


def test_progress_lines_one_per_component() -> None:
    db, app = Workload("StatefulSet", "postgresql-rhdemo"), Workload("Deployment", "rhdemo-app")
    crash = PodState("rhdemo-app-1", "Running", False, "0/1", 3, "app: CrashLoopBackOff")
    states = [WorkloadState(db, 1, 1, 1, True), WorkloadState(app, 1, 0, 1, True, (crash,))]
    hooks = [HookJob("postgresql-rhdemo-password-sync-2", "post-install,pre-upgrade", "succeeded", "t1", "t2")]
    lines = component_lines(states, [db, app], hooks)
    assert list(lines) == ["database", "app", "hooks"]
    assert lines["database"] == "statefulset/postgresql-rhdemo: ready"
    assert "CrashLoopBackOff" in lines["app"] and "3 restarts" in lines["app"]
    assert lines["hooks"] == "postgresql-rhdemo-password-sync-2 succeeded"
    assert component_lines([None], [app], [])["app"] == "deployment/rhdemo-app: not created yet"


def test_helm_errors_name_the_failing_objects() -> None:
    error = ("Error: UPGRADE FAILED: pre-upgrade hooks failed: 1 error occurred:\n"
             "\t* job postgresql-rhdemo-password-sync-3 failed: BackoffLimitExceeded\n"
             "resource Deployment/rhdemo-stagingkub/rhdemo-app not ready")
    assert failing_objects(error) == ["postgresql-rhdemo-password-sync-3", "rhdemo-app"]
