"""The Docker SDK build with a content tag, on the real engine: built once, then found by its tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.config import LabConfig
from lab.images import BuildFailed, ImageBuilder, app_images, docker_client

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
        built = builder.build(image, stub, timeout=300, log_dir=tmp_path / "logs", on_line=lines.append)
        assert lines, "the first build streams its output"
        out = client.containers.run(image.tag, ["cat", "/release"], remove=True)
        assert out.decode().strip() == "9.9"  # the build arg reached the build
        again: list[str] = []
        assert builder.build(image, stub, timeout=300, log_dir=tmp_path / "logs", on_line=again.append) == built and again == []
        (stub / "app.txt").write_text("changed\n")
        assert app_images(config)[0].tag != image.tag
    finally:
        client.images.remove(image.tag, force=True)


def test_a_failed_build_names_its_step_and_cause_and_keeps_the_whole_log(tmp_path: Path) -> None:
    """A few lines, not the build's whole output: the failing step, its cause, where the full log is."""
    client = docker_client()
    assert client.images.list(name=BASE), f"{BASE} missing: run `bash .ci/lib/build-images.sh`"
    stub = tmp_path / "stub"
    stub.mkdir()
    noise = "".join(f"echo line {n}; " for n in range(40))
    (stub / "Dockerfile").write_text(f"FROM {BASE}\nRUN {noise}echo 'certificate verify failed' >&2; exit 3\n")
    image = app_images(LabConfig(app_stub_path=stub, app_releases=("9.8",), app_release="9.8"))[0]
    with pytest.raises(BuildFailed) as failure:
        ImageBuilder(client).build(image, stub, timeout=300, log_dir=tmp_path / "logs")
    message, hint = failure.value.message, failure.value.hint or ""
    assert "failed at `RUN echo line 0;" in message and "returned a non-zero code: 3" in message
    assert len(message.splitlines()) <= 4, message
    log = failure.value.log_path
    assert str(log) in hint and log.parent == tmp_path / "logs"
    text = log.read_text()
    assert "line 39" in text and "certificate verify failed" in text, "the whole output is kept in the file"
