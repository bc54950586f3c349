"""Content-derived image tags: same content + build args -> same tag; any change -> a new tag."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab.config import ImageSet, LabConfig
from lab.errors import LabError
from lab.images import (app_image_values, app_images, content_hash, images_in_values, local_images_required,
                        mirror_reference)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    stub = tmp_path / "app-stub"
    (stub / "src" / "pkg").mkdir(parents=True)
    (stub / "Dockerfile").write_text("ARG BASE_IMAGE=python:3.13-slim\nFROM ${BASE_IMAGE}\n")
    (stub / "src" / "pkg" / "app.py").write_text("print('v1')\n")
    return stub


def config_for(stub: Path, **changes: object) -> LabConfig:
    return LabConfig(app_stub_path=stub, chart_path=stub.parent / "chart", **changes)  # type: ignore[arg-type]


def test_tags_name_the_release_and_twelve_hex_of_content(context: Path) -> None:
    images = app_images(config_for(context))
    assert [i.release for i in images] == ["1.0", "1.1"]
    for image in images:
        assert re.fullmatch(rf"localhost/rhdemo-lab/rhdemo-app:{re.escape(image.release)}-[0-9a-f]{{12}}", image.tag)
    assert images[0].short_tag.split("-")[1] != images[1].short_tag.split("-")[1]  # APP_VERSION is a build arg


def test_same_content_same_tag_and_caches_do_not_count(context: Path) -> None:
    before = app_images(config_for(context))
    (context / "src" / "pkg" / "__pycache__").mkdir()
    (context / "src" / "pkg" / "__pycache__" / "app.cpython-313.pyc").write_bytes(b"\0junk")
    (context / ".pytest_cache").mkdir()
    (context / ".pytest_cache" / "x").write_text("y")
    assert app_images(config_for(context)) == before


def test_any_file_change_changes_the_tag(context: Path) -> None:
    before = content_hash(context, {})
    (context / "src" / "pkg" / "app.py").write_text("print('v2')\n")
    after_edit = content_hash(context, {})
    (context / "src" / "pkg" / "new.py").write_text("")
    after_add = content_hash(context, {})
    (context / "src" / "pkg" / "new.py").chmod(0o755)
    after_chmod = content_hash(context, {})
    assert len({before, after_edit, after_add, after_chmod}) == 4


def test_dockerignored_files_do_not_count(context: Path) -> None:
    (context / ".dockerignore").write_text("tests/\n")
    before = content_hash(context, {})
    (context / "tests").mkdir()
    (context / "tests" / "t.py").write_text("x")
    assert content_hash(context, {}) == before


def test_build_args_change_the_tag(context: Path, tmp_path: Path) -> None:
    public = app_images(config_for(context))[0]
    local = app_images(config_for(context, image_set=ImageSet("local")))[0]
    assert local.build_args["BASE_IMAGE"] == "localhost/rhdemo-lab/python:3.13-trixie"
    assert "BASE_IMAGE" not in public.build_args and local.tag != public.tag
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    with_ca = app_images(config_for(context, ca_cert=ca))[0]
    assert with_ca.build_args["EXTRA_CA_CERT"].startswith("-----BEGIN CERTIFICATE") and with_ca.tag != public.tag
    mirror = app_images(config_for(context, image_set=ImageSet("mirror", "mirror.example.com/hub")))[0]
    assert mirror.build_args["BASE_IMAGE"] == "mirror.example.com/hub/library/python:3.13-slim"


def test_unreadable_ca_cert_and_missing_dockerfile_are_lab_errors(context: Path, tmp_path: Path) -> None:
    with pytest.raises(LabError, match="CA certificate"):
        app_images(config_for(context, ca_cert=tmp_path / "missing.pem"))
    with pytest.raises(LabError, match="no Dockerfile"):
        app_images(config_for(tmp_path / "empty"))


@pytest.mark.parametrize("reference, expected", [
    ("python:3.13-slim", "m.example/p/library/python:3.13-slim"),
    ("flyway/flyway:10-alpine", "m.example/p/flyway/flyway:10-alpine"),
    ("quay.io/keycloak/keycloak:26.5.6", "m.example/p/keycloak/keycloak:26.5.6"),
    ("docker.io/library/postgres:16-alpine", "m.example/p/library/postgres:16-alpine"),
])
def test_mirror_reference(reference: str, expected: str) -> None:
    assert mirror_reference(reference, "m.example/p") == expected


def test_images_in_values_and_app_values(tmp_path: Path) -> None:
    values = {"a": {"image": {"registry": "localhost", "repository": "rhdemo-lab/postgres", "tag": "17-trixie"}},
              "b": {"nested": {"image": {"repository": "flyway/flyway", "tag": 10}}},
              "c": {"image": {"registry": "localhost", "repository": "rhdemo-lab/postgres", "tag": "17-trixie"}}}
    assert images_in_values(values) == ["localhost/rhdemo-lab/postgres:17-trixie", "flyway/flyway:10"]
    image = app_images(config_for(_stub(tmp_path)))[0]
    assert app_image_values(image) == {"rhdemo": {"image": {
        "registry": "localhost", "repository": "rhdemo-lab/rhdemo-app", "tag": image.short_tag}}}


def test_local_set_images_come_from_the_chart_values_file(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "values-image-set-local.yaml").write_text(
        "global:\n  imageRegistry: localhost\nkeycloak:\n  image:\n    registry: localhost\n"
        "    repository: rhdemo-lab/keycloak\n    tag: 26.5.6\n")
    config = LabConfig(chart_path=chart, image_set=ImageSet("local"))
    assert local_images_required(config) == ["localhost/rhdemo-lab/keycloak:26.5.6"]
    assert local_images_required(LabConfig(chart_path=chart)) == []


def _stub(tmp_path: Path) -> Path:
    stub = tmp_path / "stub2"
    stub.mkdir()
    (stub / "Dockerfile").write_text("FROM scratch\n")
    return stub


def test_extra_ca_keeps_only_certificates_beyond_the_public_set(tmp_path: Path) -> None:
    import certifi

    from lab.images import _pem_blocks, extra_ca_pem

    public = _pem_blocks(Path(certifi.where()).read_text())[:3]
    proxy = "-----BEGIN CERTIFICATE-----\nTUlJQnByb3h5\n-----END CERTIFICATE-----"
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("\n".join([public[0], proxy, *public[1:]]) + "\n")
    assert extra_ca_pem(bundle) == proxy + "\n"
    only_public = tmp_path / "public.pem"
    only_public.write_text("\n".join(public))
    assert extra_ca_pem(only_public) == ""
    not_pem = tmp_path / "x.pem"
    not_pem.write_text("hello")
    with pytest.raises(LabError, match="no PEM certificate"):
        extra_ca_pem(not_pem)
