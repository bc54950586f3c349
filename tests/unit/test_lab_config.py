"""Config precedence: defaults <- config file <- environment <- flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.config import ImageSet, LabConfig, load_config
from lab.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_without_file_env_or_flags(tmp_path: Path) -> None:
    config = load_config({}, env={}, cwd=tmp_path, system_dir=tmp_path)  # no /etc/pip.conf either
    assert config == LabConfig(tool_dirs=config.tool_dirs, state_dir=config.state_dir)
    assert (config.cluster_name, config.namespace, config.release) == ("rhdemo-lab", "rhdemo-stagingkub", "rhdemo")
    assert config.image_set == ImageSet("public")
    assert (config.app_host_port, config.actuator_host_port) == (8080, 9000)
    assert config.context == "kind-rhdemo-lab" and config.uses_kind
    assert config.chart_path.parts[-2:] == ("chart", "rhdemo")


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    write(tmp_path / "lab.toml", 'cluster_name = "from-file"\nnamespace = "ns-file"\nrelease = "rel-file"\n'
                                 'app_host_port = 18080\n[timeouts]\nhelm = 42\n')
    env = {"RHDEMO_LAB_NAMESPACE": "ns-env", "RHDEMO_LAB_RELEASE": "rel-env", "RHDEMO_LAB_TIMEOUT_READY": "7"}
    config = load_config({"release": "rel-flag"}, env=env, cwd=tmp_path)
    assert config.cluster_name == "from-file"  # only the file sets it
    assert config.namespace == "ns-env"  # env beats file
    assert config.release == "rel-flag"  # flag beats env
    assert config.app_host_port == 18080
    assert (config.timeouts.helm, config.timeouts.ready) == (42, 7)


def test_unset_flags_do_not_override(tmp_path: Path) -> None:
    config = load_config({"node_image": None, "values_files": ()}, env={"RHDEMO_LAB_NODE_IMAGE": "img:1"}, cwd=tmp_path)
    assert config.node_image == "img:1"


def test_values_files_and_set_pairs_from_flags_add_to_lower_layers(tmp_path: Path) -> None:
    write(tmp_path / "lab.toml", 'values_files = ["a.yaml"]\nset_values = {"rhdemo.replicaCount" = "1"}\n')
    config = load_config({"values_files": (Path("b.yaml"),), "set_values": ("x.y=2",)}, env={}, cwd=tmp_path)
    assert config.values_files == (Path("a.yaml"), Path("b.yaml"))
    assert config.set_values == (("rhdemo.replicaCount", "1"), ("x.y", "2"))


def test_explicit_config_file_wins_over_default_locations(tmp_path: Path) -> None:
    write(tmp_path / "lab.toml", 'cluster_name = "default-location"\n')
    other = write(tmp_path / "other.toml", 'cluster_name = "explicit"\n')
    assert load_config({}, env={}, cwd=tmp_path, config_file=other).cluster_name == "explicit"
    assert load_config({}, env={"RHDEMO_LAB_CONFIG": str(other)}, cwd=tmp_path).cluster_name == "explicit"


def test_image_sets() -> None:
    assert ImageSet.parse("local") == ImageSet("local")
    mirror = ImageSet.parse("mirror:registry.example.com/hub/")
    assert mirror == ImageSet("mirror", "registry.example.com/hub") and str(mirror) == "mirror:registry.example.com/hub"
    for bad in ("private", "mirror:", "mirror: "):
        with pytest.raises(ConfigError):
            ImageSet.parse(bad)


@pytest.mark.parametrize("env", [{"RHDEMO_LAB_APP_HOST_PORT": "eighty"}, {"RHDEMO_LAB_ACTUATOR_HOST_PORT": "70000"},
                                 {"RHDEMO_LAB_IMAGE_SET": "nope"}, {"RHDEMO_LAB_TIMEOUT_HELM": "soon"}])
def test_bad_environment_values_are_config_errors(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_config({}, env=env, cwd=tmp_path)


def test_bad_config_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting 'clustr_name'"):
        load_config({}, env={}, cwd=tmp_path, config_file=write(tmp_path / "a.toml", 'clustr_name = "x"\n'))
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config({}, env={}, cwd=tmp_path, config_file=write(tmp_path / "b.toml", "cluster_name = \n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config({}, env={}, cwd=tmp_path, config_file=tmp_path / "missing.toml")


def test_unrelated_rhdemo_lab_variables_are_ignored(tmp_path: Path) -> None:
    config = load_config({}, env={"RHDEMO_LAB_CACHE": "/x", "RHDEMO_LAB_SOMETHING_ELSE": "y"}, cwd=tmp_path)
    assert config.cluster_name == "rhdemo-lab"


def test_context_flag_targets_an_existing_cluster(tmp_path: Path) -> None:
    config = load_config({"kube_context": "prod-like"}, env={}, cwd=tmp_path)
    assert config.context == "prod-like" and not config.uses_kind


def test_app_release_must_be_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="app_release"):
        load_config({"app_release": "2.0"}, env={}, cwd=tmp_path)


def test_the_hosts_ca_settings_are_honoured_without_a_flag(tmp_path: Path) -> None:
    bundle = write(tmp_path / "proxy.pem", "")
    assert load_config({}, env={"SSL_CERT_FILE": str(bundle)}, cwd=tmp_path, system_dir=tmp_path).ca_cert == bundle
    pip_conf = write(tmp_path / "pip.conf", f"[global]\ncert = {tmp_path / 'pip.pem'}\n")
    env = {"SSL_CERT_FILE": str(bundle), "PIP_CONFIG_FILE": str(pip_conf)}
    assert load_config({}, env=env, cwd=tmp_path, system_dir=tmp_path).ca_cert == tmp_path / "pip.pem", \
        "pip's own setting wins: the image builds run pip"
    assert load_config({}, env={**env, "PIP_CERT": "/pip-cert.pem"}, cwd=tmp_path, system_dir=tmp_path).ca_cert == Path("/pip-cert.pem")
    overridden = load_config({"ca_cert": "/flag.pem"}, env={**env, "RHDEMO_LAB_CA_CERT": "/env.pem"}, cwd=tmp_path, system_dir=tmp_path)
    assert overridden.ca_cert == Path("/flag.pem"), "--ca-cert stays the override"
    assert load_config({}, env={**env, "PIP_CONFIG_FILE": "/dev/null"}, cwd=tmp_path, system_dir=tmp_path).ca_cert == bundle


def test_the_system_pip_conf_is_read(tmp_path: Path) -> None:
    write(tmp_path / "pip.conf", "[install]\ncert = /etc/corp.pem\n")
    assert load_config({}, env={}, cwd=tmp_path, system_dir=tmp_path).ca_cert == Path("/etc/corp.pem")
