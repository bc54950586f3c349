"""`lab doctor`'s decisions through fakes of the Docker engine (its image store, its pull probe, its
cgroup version): what is present or pullable, what the node's Kubernetes needs, which fix is given."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import docker.errors
import pytest
import requests.exceptions

from lab import doctor
from lab import images as images_mod
from lab.cluster import ClusterState
from lab.config import REPO_ROOT, ImageSet, LabConfig

NOT_FOUND = docker.errors.ImageNotFound("absent")


class FakeImage:
    def __init__(self, image_id: str, labels: dict[str, str] | None = None) -> None:
        self.id = image_id
        self.labels = labels or {}


class FakeDocker:
    """The engine: an image store, a distribution endpoint answering per registry, `docker info`."""

    def __init__(self, present: dict[str, FakeImage] | None = None, answers: dict[str, Any] | None = None,
                 cgroup: str = "2") -> None:
        self.present = present or {}
        self.answers = answers or {}  # registry host -> None (has every image) | an exception to raise
        self.asked: list[str] = []
        self.cgroup = cgroup
        self.images = self
        self.api = self

    def get(self, reference: str) -> FakeImage:
        if reference not in self.present:
            raise NOT_FOUND
        return self.present[reference]

    def inspect_distribution(self, reference: str) -> dict[str, Any]:
        self.asked.append(reference)
        answer = self.answers.get(images_mod.registry_host(reference), no_such_host(reference))
        if answer is not None:
            raise answer
        return {"Descriptor": {}}

    def info(self) -> dict[str, str]:
        return {"CgroupVersion": self.cgroup}


def no_such_host(reference: str) -> docker.errors.APIError:
    host = images_mod.registry_host(reference)
    return docker.errors.APIError("500 Server Error", explanation=f'Get "https://{host}/v2/": dial tcp: lookup {host}: no such host')


def probe_and_builder(engine: FakeDocker) -> tuple[images_mod.PullProbe, images_mod.ImageBuilder]:
    return images_mod.PullProbe(engine), images_mod.ImageBuilder(engine)


def test_a_registry_that_does_not_answer_is_asked_once_and_nothing_of_it_is_pullable() -> None:
    engine = FakeDocker()
    probe, _ = probe_and_builder(engine)
    first, second = probe.check("docker.io/postgres:16-alpine"), probe.check("flyway/flyway:10-alpine")
    assert not first.pullable and not second.pullable
    assert first.reason.startswith("registry docker.io does not answer (Get \"https://docker.io/v2/\": dial tcp")
    assert engine.asked == ["docker.io/postgres:16-alpine"]  # the second image of that registry is not asked


def test_a_registry_that_answers_without_the_image_or_too_late() -> None:
    missing = docker.errors.APIError("404", explanation="manifest unknown: manifest unknown")
    engine = FakeDocker(answers={"quay.io": missing, "ghcr.io": None,
                                 "registry.example.com": requests.exceptions.ReadTimeout("read timed out")})
    probe, _ = probe_and_builder(engine)
    assert probe.check("quay.io/keycloak/keycloak:0").reason == "registry quay.io answered: manifest unknown: manifest unknown"
    assert probe.check("ghcr.io/x/y:1").pullable
    assert probe.check("registry.example.com/y:1").reason == "registry registry.example.com did not answer in time"


def test_node_image_absent_and_not_pullable_fails_with_the_build_and_the_flag(tmp_path: Path) -> None:
    probe, builder = probe_and_builder(FakeDocker())
    config = LabConfig(node_image="kindest/node:v1.35.1", state_dir=tmp_path)
    check, reference = doctor.check_node_image(config, runner=None, state=None, builder=builder, probe=probe)  # type: ignore[arg-type]
    assert not check.ok and check.blocking and reference == "kindest/node:v1.35.1"
    assert "kindest/node:v1.35.1 is not in Docker and cannot be pulled: registry docker.io does not answer" in check.detail
    assert check.fix == (f"build the registry-free node image (`{images_mod.BUILD_NODE_IMAGE}`) and use it: "
                         "`lab up --node-image localhost/rhdemo-lab/kind-node:v1.34.4`")


def test_node_image_in_docker_or_running_the_cluster_is_fine(tmp_path: Path) -> None:
    wanted = "localhost/rhdemo-lab/kind-node:v1.34.4"
    config = LabConfig(node_image=wanted, state_dir=tmp_path)
    probe, builder = probe_and_builder(FakeDocker(present={wanted: FakeImage("sha256:n")}))
    assert doctor.check_node_image(config, None, None, builder, probe)[0].ok  # type: ignore[arg-type]
    probe, builder = probe_and_builder(FakeDocker())
    running = ClusterState(exists=True, container_exists=True, running=True, node_image=wanted)
    check = doctor.check_node_image(config, None, running, builder, probe)[0]  # type: ignore[arg-type]
    assert check.ok and "the cluster runs it" in check.detail
    missing_local = doctor.check_node_image(config, None, None, builder, probe)[0]  # type: ignore[arg-type]
    assert missing_local.fix == f"build it: `{images_mod.BUILD_NODE_IMAGE}`"


@pytest.mark.parametrize("cgroup, node_image, labels, ok", [
    ("1", "kindest/node:v1.35.0", {}, False),
    ("1", "kindest/node:v1.37.0@sha256:" + "a" * 64, {}, False),
    ("1", "localhost/rhdemo-lab/kind-node:v1.34.4", {}, True),
    ("1", "localhost/rhdemo-lab/kind-node:custom", {"rhdemo-lab.kubernetes-version": "v1.36.0"}, False),
    ("2", "kindest/node:v1.37.0", {}, True),
])
def test_kubernetes_135_and_later_refuse_a_cgroup_v1_host(cgroup: str, node_image: str, labels: dict[str, str],
                                                          ok: bool) -> None:
    engine = FakeDocker(present={node_image: FakeImage("sha256:n", labels)} if labels else {}, cgroup=cgroup)
    check = doctor.check_cgroup(engine, images_mod.ImageBuilder(engine), node_image)
    assert check.ok is ok, check
    if not ok:
        assert "the kubelet of Kubernetes 1.35+ refuses cgroup v1" in check.detail
        assert "--node-image localhost/rhdemo-lab/kind-node:v1.34.4" in (check.fix or "")


def test_the_ca_bundle_must_exist_and_hold_pem_certificates(tmp_path: Path) -> None:
    assert doctor.check_ca_cert(LabConfig()).ok  # none given: nothing to check
    absent = doctor.check_ca_cert(LabConfig(ca_cert=tmp_path / "nope.pem"))
    assert not absent.ok and absent.detail.endswith("nope.pem (from flag) does not exist")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    broken = doctor.check_ca_cert(LabConfig(ca_cert=garbage))
    assert not broken.ok and "is not a PEM certificate bundle" in broken.detail
    assert broken.fix == "pass a PEM bundle: `--ca-cert /etc/ssl/certs/ca-certificates.crt` (or RHDEMO_LAB_CA_CERT)"
    import certifi

    assert doctor.check_ca_cert(LabConfig(ca_cert=Path(certifi.where()))).ok


def test_chart_images_present_in_the_node_or_pullable_else_the_registry_free_set() -> None:
    manifest = """
kind: StatefulSet
spec: {template: {spec: {containers: [{name: pg, image: docker.io/postgres:16-alpine}],
                          initContainers: [{name: init, image: docker.io/postgres:16-alpine}]}}}
---
kind: Deployment
spec: {template: {spec: {containers: [{name: app, image: localhost/rhdemo-lab/rhdemo-app:1.0-abc},
                                      {name: kc, image: quay.io/keycloak/keycloak:26.5.6}]}}}
"""
    assert images_mod.images_in_manifest(manifest) == ["docker.io/postgres:16-alpine", "localhost/rhdemo-lab/rhdemo-app:1.0-abc",
                                                       "quay.io/keycloak/keycloak:26.5.6"]

    class Kind:
        tools = ("kind",)

    probe, builder = probe_and_builder(FakeDocker(answers={"quay.io": None}))
    check = doctor.check_chart_images(LabConfig(), manifest, Kind(), None, builder, probe)  # type: ignore[arg-type]
    assert not check.ok and check.blocking
    assert check.detail.startswith("docker.io/postgres:16-alpine cannot be pulled: registry docker.io does not answer")
    assert "keycloak" not in check.detail and "rhdemo-app" not in check.detail
    assert check.fix == ("no registry answers here: use the registry-free image set, `lab up --image-set local` "
                         "(build it first: `lab build images`)")

    class Existing:
        tools: tuple[str, ...] = ()

    on_existing = doctor.check_chart_images(LabConfig(), manifest, Existing(), None, builder, probe)  # type: ignore[arg-type]
    assert not on_existing.ok and not on_existing.blocking  # its nodes pull, not this engine: a warning
    assert "localhost/rhdemo-lab/rhdemo-app:1.0-abc cannot be pulled" in on_existing.detail  # nothing loads it there


def test_an_app_image_renamed_by_a_mirror_is_not_the_one_the_lab_loads() -> None:
    manifest = "spec: {containers: [{name: app, image: mirror.example.com/hub/rhdemo-lab/rhdemo-app:1.0-abc}]}"

    class Kind:
        tools = ("kind",)

    engine = FakeDocker()
    check = doctor.check_chart_images(LabConfig(image_set=ImageSet("mirror", "mirror.example.com/hub")), manifest,
                                      Kind(), None, images_mod.ImageBuilder(engine), images_mod.PullProbe(engine))  # type: ignore[arg-type]
    assert not check.ok and check.detail.startswith("mirror.example.com/hub/rhdemo-lab/rhdemo-app:1.0-abc cannot be pulled")


def test_the_local_set_must_be_in_docker_rendered_or_not(tmp_path: Path) -> None:
    config = LabConfig(image_set=ImageSet("local"))
    required = images_mod.local_images_required(config)
    assert "localhost/rhdemo-lab/flyway:10.22.0" in required

    class Kind:
        tools = ("kind",)

    engine = FakeDocker(present={ref: FakeImage("sha256:x") for ref in required if "flyway" not in ref})
    check = doctor.check_chart_images(config, "", Kind(), None, images_mod.ImageBuilder(engine),  # type: ignore[arg-type]
                                      images_mod.PullProbe(engine))
    assert not check.ok and check.detail == "localhost/rhdemo-lab/flyway:10.22.0 not in Docker (the lab loads it into the node from there)"
    assert check.fix == "build the local image set: `lab build images`"
    assert engine.asked == []  # nothing of the local set is pullable: not asked


def test_kind_default_node_image_is_read_from_its_binary(tmp_path: Path) -> None:
    binary = tmp_path / "kind"
    digest = "b" * 64
    binary.write_bytes(b"\0\1junk kindest/node:v1.37.0@sha256:" + digest.encode() + b"\0usage: kindest/node:v1.2.3 ")
    assert images_mod.kind_default_node_image(binary) == f"kindest/node:v1.37.0@sha256:{digest}"
    assert images_mod.kind_default_node_image(tmp_path / "missing") is None


def test_the_registry_free_node_image_is_the_one_ci_builds() -> None:
    versions = (REPO_ROOT / ".ci" / "versions.env").read_text()
    kubernetes = re.search(r"^KUBERNETES_VERSION=(\S+)$", versions, re.MULTILINE)
    assert kubernetes is not None
    assert f"localhost/rhdemo-lab/kind-node:{kubernetes.group(1)}" == images_mod.REGISTRY_FREE_NODE_IMAGE
