"""Image IDs inside the kind node, read through `docker exec` (a fake `docker` at the process boundary)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.cluster import KindCluster, images_to_load
from lab.config import LabConfig
from lab.runner import Runner

LISTING = """REF TYPE DIGEST SIZE PLATFORMS LABELS
localhost/rhdemo-lab/postgres:17-trixie application/vnd.oci.image.manifest.v1+json sha256:man1 206.1 MiB linux/amd64 -
localhost/rhdemo-lab/keycloak:26.5.6 application/vnd.oci.image.index.v1+json sha256:idx2 458.1 MiB linux/amd64 -
registry.k8s.io/pause:3.10 application/vnd.oci.image.manifest.v1+json sha256:man3 1 MiB linux/amd64 -
sha256:0123 application/vnd.oci.image.manifest.v1+json sha256:man1 206.1 MiB linux/amd64 -
"""
CONTENT = {
    "sha256:man1": {"config": {"digest": "sha256:config-postgres"}},
    "sha256:idx2": {"manifests": [{"digest": "sha256:arm", "platform": {"architecture": "arm64"}},
                                  {"digest": "sha256:man2", "platform": {"architecture": "amd64"}}]},
    "sha256:man2": {"config": {"digest": "sha256:config-keycloak"}},
    "sha256:man3": {"config": {"digest": "sha256:config-pause"}},
}


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    calls = tmp_path / "calls"
    (tmp_path / "listing").write_text(LISTING)
    (tmp_path / "content.json").write_text(json.dumps(CONTENT))
    script = tmp_path / "docker"
    script.write_text(f"""#!/usr/bin/env python3
import json, sys
args = sys.argv[1:]
open({str(calls)!r}, "a").write(" ".join(args) + "\\n")
assert args[:2] == ["exec", "rhdemo-lab-control-plane"], args
command = args[2:]
if command[0] == "crictl":
    sys.exit(126)  # the node has no crictl
if command[:4] == ["ctr", "-n", "k8s.io", "images"]:
    print(open({str(tmp_path / "listing")!r}).read(), end="")
elif command[:4] == ["ctr", "-n", "k8s.io", "content"]:
    print(json.dumps(json.load(open({str(tmp_path / "content.json")!r}))[command[5]]))
else:
    sys.exit(2)
""")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    return calls


def test_config_digests_through_ctr_only_for_the_wanted_images(fake_docker: Path) -> None:
    cluster = KindCluster(LabConfig(), Runner(), docker_client=None)
    wanted = {"localhost/rhdemo-lab/postgres:17-trixie", "localhost/rhdemo-lab/keycloak:26.5.6"}
    assert cluster.node_images(wanted) == {"localhost/rhdemo-lab/postgres:17-trixie": "sha256:config-postgres",
                                           "localhost/rhdemo-lab/keycloak:26.5.6": "sha256:config-keycloak"}
    assert "sha256:man3" not in fake_docker.read_text()  # unwanted images are not read
    docker_ids = {"localhost/rhdemo-lab/postgres:17-trixie": "sha256:config-postgres",
                  "localhost/rhdemo-lab/keycloak:26.5.6": "sha256:rebuilt"}
    assert images_to_load(docker_ids, cluster.node_images(wanted)) == ["localhost/rhdemo-lab/keycloak:26.5.6"]
