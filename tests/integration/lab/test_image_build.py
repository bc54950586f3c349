"""The Docker SDK build with a content tag, on the real engine: built once, then found by its tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.config import LabConfig
from lab.images import ImageBuilder, app_images, docker_client

pytestmark = [pytest.mark.integration, pytest.mark.docker]

BASE = "localhost/rhdemo-lab/debian:trixie"  # built by .ci/lib/build-images.sh; nothing can be pulled here


def test_build_once_then_reuse_by_content_tag(tmp_path: Path) -> None:
    client = docker_client()
    assert client.images.list(name=BASE), f"{BASE} missing: run `bash .ci/lib/build-images.sh`"
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "Dockerfile").write_text(f"FROM {BASE}\nARG APP_VERSION\nRUN echo \"$APP_VERSION\" > /release\n")
    (stub / "app.txt").write_text("content\n")
    config = LabConfig(app_stub_path=stub, app_releases=("9.9",), app_release="9.9")
    image = app_images(config)[0]
    builder = ImageBuilder(client)
    lines: list[str] = []
    try:
        built = builder.build(image, stub, timeout=300, on_line=lines.append)
        assert lines, "the first build streams its output"
        out = client.containers.run(image.tag, ["cat", "/release"], remove=True)
        assert out.decode().strip() == "9.9"  # the build arg reached the build
        again: list[str] = []
        assert builder.build(image, stub, timeout=300, on_line=again.append) == built and again == []
        (stub / "app.txt").write_text("changed\n")
        assert app_images(config)[0].tag != image.tag
    finally:
        client.images.remove(image.tag, force=True)
