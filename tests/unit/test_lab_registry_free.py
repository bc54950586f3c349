"""Defaults that work wherever they can: nothing chosen and no registry answering means the registry-free
set, and what of it is missing gets built first; a choice, or a registry that answers, is left alone.
(Docker and the registry are faked at their boundary; tests/integration/lab/test_doctor.py asks the real ones.)"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lab.build import NO_REGISTRY, registry_free_defaults
from lab.images import REGISTRY_FREE_NODE_IMAGE, PullCheck, local_images_required
from lab.remembered import load_settings
from lab.runner import Runner

KIND_DEFAULT = "kindest/node:v1.37.0@sha256:" + "a" * 64


class FakeImages:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def get(self, reference: str) -> Any:
        import docker.errors

        if reference not in self.present:
            raise docker.errors.ImageNotFound(reference)
        return SimpleNamespace(id=f"sha256:{abs(hash(reference))}")


class FakeProbe:
    def __init__(self, answered: bool) -> None:
        self.answered = answered

    def check(self, reference: str) -> PullCheck:
        return PullCheck(reference, False, "registry docker.io does not answer (dial tcp: i/o timeout)" if not self.answered
                         else "registry docker.io answered: manifest unknown", answered=self.answered)


@pytest.fixture
def kind_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `kind` binary naming its default node image, the only kind on PATH (CI has the real one there)."""
    kind = tmp_path / "bin" / "kind"
    monkeypatch.setenv("PATH", str(kind.parent))
    kind.parent.mkdir()
    kind.write_bytes(b"\x00junk" + KIND_DEFAULT.encode() + b"\x00more")
    kind.chmod(0o755)
    return kind.parent


def settings(tmp_path: Path, flags: dict[str, Any] | None = None) -> Any:
    env = {"RHDEMO_LAB_STATE_DIR": str(tmp_path / "state"), "PATH": "/nonexistent"}
    return load_settings(flags or {}, env=env, cwd=tmp_path)


def docker(present: set[str]) -> Any:
    return lambda: SimpleNamespace(images=FakeImages(present))


def test_nothing_chosen_and_no_registry_gives_the_registry_free_set_and_what_to_build(tmp_path: Path, kind_dir: Path) -> None:
    fallback = registry_free_defaults(settings(tmp_path), Runner(tool_dirs=(kind_dir,)), docker(set()), FakeProbe(answered=False))
    assert fallback is not None
    config = fallback.settings.config
    assert (str(config.image_set), config.node_image) == ("local", REGISTRY_FREE_NODE_IMAGE)
    assert fallback.settings.resolved.origins["image_set"] == NO_REGISTRY == fallback.settings.resolved.origins["node_image"]
    assert "does not answer" in fallback.reason
    assert [part.name for part in fallback.to_build] == ["kubernetes", "go-tools", "node-image", "images"]

    built = {REGISTRY_FREE_NODE_IMAGE, *local_images_required(config)}
    nothing_missing = registry_free_defaults(settings(tmp_path), Runner(tool_dirs=(kind_dir,)), docker(built), FakeProbe(False))
    assert nothing_missing is not None and nothing_missing.to_build == ()


def test_a_choice_or_an_answering_registry_is_left_alone(tmp_path: Path, kind_dir: Path) -> None:
    runner = Runner(tool_dirs=(kind_dir,))
    assert registry_free_defaults(settings(tmp_path, {"image_set": "public"}), runner, docker(set()), FakeProbe(False)) is None
    assert registry_free_defaults(settings(tmp_path, {"node_image": "kindest/node:v1.34.0"}), runner, docker(set()), FakeProbe(False)) is None
    assert registry_free_defaults(settings(tmp_path), runner, docker(set()), FakeProbe(answered=True)) is None, \
        "a registry that answers has its own errors to show"
    assert registry_free_defaults(settings(tmp_path), runner, docker({KIND_DEFAULT}), FakeProbe(False)) is None, \
        "kind's default node image is already here"
    assert registry_free_defaults(settings(tmp_path, {"kube_context": "other"}), runner, docker(set()), FakeProbe(False)) is None
