"""Image IDs inside the kind node, read through `docker exec` (a fake `docker` at the process boundary)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cluster import KindCluster, images_to_load
from lab.config import LabConfig
from lab.errors import LabError
from lab.runner import Runner

CRICTL_IMAGES = {"images": [
    {"id": "sha256:config-postgres", "repoTags": ["localhost/rhdemo-lab/postgres:17-trixie"]},
    {"id": "sha256:config-keycloak", "repoTags": ["localhost/rhdemo-lab/keycloak:26.5.6"]},
    {"id": "sha256:config-pause", "repoTags": ["registry.k8s.io/pause:3.10"]},
    {"id": "sha256:untagged", "repoTags": None},
]}


def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, node_has_crictl: bool) -> None:
    script = tmp_path / "docker"
    script.write_text(f"""#!/usr/bin/env python3
import json, sys
args = sys.argv[1:]
assert args[:2] == ["exec", "rhdemo-lab-control-plane"], args
if args[2:] == ["crictl", "images", "-o", "json"] and {node_has_crictl!r}:
    print(json.dumps({CRICTL_IMAGES!r}))
else:
    print("exec: crictl: not found", file=sys.stderr)
    sys.exit(127)
""")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")


def test_image_ids_in_the_node_come_from_crictl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_docker(tmp_path, monkeypatch, node_has_crictl=True)
    cluster = KindCluster(LabConfig(), Runner(), docker_client=None)
    in_node = cluster.node_images()
    assert in_node["localhost/rhdemo-lab/keycloak:26.5.6"] == "sha256:config-keycloak"
    docker_ids = {"localhost/rhdemo-lab/postgres:17-trixie": "sha256:config-postgres",
                  "localhost/rhdemo-lab/keycloak:26.5.6": "sha256:rebuilt"}
    assert images_to_load(docker_ids, in_node) == ["localhost/rhdemo-lab/keycloak:26.5.6"]


def test_a_node_without_crictl_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_docker(tmp_path, monkeypatch, node_has_crictl=False)
    with pytest.raises(LabError) as error:
        KindCluster(LabConfig(), Runner(), docker_client=None).node_images()
    assert "crictl" in error.value.message and "lab build node-image" in (error.value.hint or "")
