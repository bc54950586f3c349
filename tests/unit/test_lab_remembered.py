"""What `lab up` was given is remembered for later commands: flags beat it, it beats the environment and
the config file, a secret is never written (and the next `up` without it is refused), `down` forgets it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from lab.config import ImageSet
from lab.errors import LabError
from lab.images import deployed_app_image_reference, deployed_image_set
from lab.remembered import forget, load_settings, record


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    # PIP_CONFIG_FILE=/dev/null: no pip.conf of this host names a CA bundle (the host's CA is a layer too)
    return {"RHDEMO_LAB_STATE_DIR": str(tmp_path / "state"), "RHDEMO_LAB_CLUSTER_NAME": "c1", "PIP_CONFIG_FILE": "/dev/null"}


def up_flags(values: Path) -> dict[str, object]:
    return {"image_set": "local", "node_image": "localhost/rhdemo-lab/kind-node:v1.34.4",
            "ca_cert": Path("ca.pem"), "values_files": (Path(values.name),),
            "set_values": ("rhdemo.replicaCount=2", "postgresql-rhdemo.database.password=s3cr3t-value")}


def test_up_records_what_it_was_given_and_later_commands_use_it(tmp_path: Path, env: dict[str, str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the values file is given relative to where `lab up` runs
    values = tmp_path / "mine.yaml"
    values.write_text("rhdemo: {replicaCount: 1}\n")
    given = load_settings(up_flags(values), env=env, cwd=tmp_path)
    recorded = record(given)

    assert recorded.path == tmp_path / "state" / "c1.settings.json"
    assert stat.S_IMODE(recorded.path.stat().st_mode) == 0o600
    text = recorded.path.read_text()
    assert "s3cr3t-value" not in text  # never a secret on disk
    assert recorded.secret_keys == ("postgresql-rhdemo.database.password",)
    data = json.loads(text)
    assert data["values_files"] == [str(values.resolve())]  # absolute: later commands run anywhere

    monkeypatch.chdir(tmp_path / "state")
    later = load_settings({}, env=env, cwd=tmp_path / "state")
    config = later.config
    assert config.image_set == ImageSet("local") and config.node_image == "localhost/rhdemo-lab/kind-node:v1.34.4"
    assert config.values_files == (values.resolve(),) and config.set_values == (("rhdemo.replicaCount", "2"),)
    assert later.resolved.origins["image_set"] == "remembered"
    shown = {s.name: (s.value, s.origin) for s in later.shown()}
    assert shown["image set"] == ("local", "remembered")
    assert shown["context"] == ("kind-c1", "default")


def test_a_flag_overrides_the_remembered_setting_and_replaces_a_remembered_list(tmp_path: Path,
                                                                               env: dict[str, str]) -> None:
    record(load_settings({"image_set": "local", "set_values": ("a=1",)}, env=env, cwd=tmp_path))
    later = load_settings({"image_set": "public", "set_values": ("b=2",)}, env=env, cwd=tmp_path)
    assert later.config.image_set == ImageSet("public") and later.resolved.origins["image_set"] == "flag"
    assert later.config.set_values == (("b", "2"),)


def test_remembered_beats_the_environment_and_adds_to_its_lists(tmp_path: Path, env: dict[str, str]) -> None:
    record(load_settings({"image_set": "public", "set_values": ("a=1",)}, env={**env, "RHDEMO_LAB_IMAGE_SET": "local"},
                         cwd=tmp_path))
    later = load_settings({}, env={**env, "RHDEMO_LAB_IMAGE_SET": "local", "RHDEMO_LAB_SET_VALUES": "e=0"}, cwd=tmp_path)
    assert later.config.image_set == ImageSet("public")  # what `up` deployed, not what the shell now says
    assert later.config.set_values == (("e", "0"), ("a", "1"))
    assert later.resolved.origins["set_values"] == "environment + remembered"


def test_defaults_are_not_remembered_the_hosts_ca_is(tmp_path: Path, env: dict[str, str]) -> None:
    recorded = record(load_settings({}, env=env, cwd=tmp_path))
    assert json.loads(recorded.path.read_text()) == {}
    bundle = tmp_path / "bundle.pem"
    with_host_ca = load_settings({}, env={**env, "SSL_CERT_FILE": str(bundle)}, cwd=tmp_path)
    assert with_host_ca.resolved.origins["ca_cert"] == "host's SSL_CERT_FILE"
    assert json.loads(record(with_host_ca).path.read_text()) == {"ca_cert": str(bundle)}  # the builds' tag needs it
    forget(with_host_ca)
    later = load_settings({}, env={**env, "RHDEMO_LAB_IMAGE_SET": "local"}, cwd=tmp_path)
    assert later.config.image_set == ImageSet("local") and later.resolved.origins["image_set"] == "environment"


def test_up_without_the_secret_it_was_given_is_refused(tmp_path: Path, env: dict[str, str]) -> None:
    values = tmp_path / "mine.yaml"
    values.write_text("{}\n")
    record(load_settings(up_flags(values), env=env, cwd=tmp_path))
    later = load_settings({}, env=env, cwd=tmp_path)
    with pytest.raises(LabError, match=r"given a secret with --set \(postgresql-rhdemo.database.password\)") as raised:
        later.check_for_up()
    assert "lab up --set postgresql-rhdemo.database.password=..." in (raised.value.hint or "")
    # given again (all --set flags replace the remembered ones): accepted
    load_settings({"set_values": ("postgresql-rhdemo.database.password=x",)}, env=env, cwd=tmp_path).check_for_up()


def test_status_masks_a_secret_set_value(tmp_path: Path, env: dict[str, str]) -> None:
    shown = {s.name: s.value for s in load_settings({"set_values": ("a.password=hunter2",)}, env=env, cwd=tmp_path).shown()}
    assert shown["--set"] == "a.password=*****"


def test_down_forgets_and_a_broken_file_is_one_clear_error(tmp_path: Path, env: dict[str, str]) -> None:
    settings = load_settings({"image_set": "local"}, env=env, cwd=tmp_path)
    path = record(settings).path
    assert forget(settings) == path and not path.exists()
    assert forget(settings) is None
    path.write_text("{not json")
    with pytest.raises(LabError, match="cannot be read") as raised:
        load_settings({}, env=env, cwd=tmp_path)
    assert f"rm {path}" in (raised.value.hint or "")


def test_the_deployed_image_set_is_read_from_the_release_values() -> None:
    app = {"image": {"registry": "localhost", "repository": "rhdemo-lab/rhdemo-app", "tag": "1.0-abc"}}
    assert deployed_image_set({"rhdemo": app}) == "public"
    local = {"keycloak": {"image": {"registry": "localhost", "repository": "rhdemo-lab/keycloak", "tag": "26.5.6"}}}
    assert deployed_image_set({**local, "rhdemo": app}) == "local"
    assert deployed_image_set({"global": {"imageRegistry": "registry.example.com/hub"}}) == "mirror:registry.example.com/hub"
    assert deployed_app_image_reference({"rhdemo": app}) == "localhost/rhdemo-lab/rhdemo-app:1.0-abc"
