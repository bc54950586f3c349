"""The chart documents itself: README.md's parameter table and values.schema.json are what Bitnami's
readme-generator-for-helm (the real one, installed by .ci/lib/install-readme-generator.sh) generates
from the `## @param` lines of values.yaml, and the checks the schema cannot make (rhdemo.validateValues)
fail the render with every problem at once."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.chart.chartlib import CHART, REPO, Helm, set_args

pytestmark = pytest.mark.integration

GENERATED = ("README.md", "values.schema.json")


def _pinned_version() -> str:
    for line in (REPO / ".ci" / "versions.env").read_text().splitlines():
        if line.startswith("README_GENERATOR_VERSION="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("README_GENERATOR_VERSION is not pinned in .ci/versions.env")


@pytest.fixture(scope="module")
def readme_generator() -> Path:
    """$README_GENERATOR, else the pinned version in $RHDEMO_LAB_CACHE/npm (install-readme-generator.sh)."""
    listed = os.environ.get("README_GENERATOR")
    cache = Path(os.environ.get("RHDEMO_LAB_CACHE", "/var/cache/rhdemo-lab"))
    path = Path(listed) if listed else (
        cache / "npm" / f"readme-generator@{_pinned_version()}" / "node_modules" / ".bin" / "readme-generator")
    if not path.is_file():
        pytest.fail(f"no readme-generator at {path}: run `bash .ci/lib/install-readme-generator.sh` "
                    "(or set README_GENERATOR)")
    version = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.strip() == f"Version: {_pinned_version()}", version
    return path


def _generate(generator: Path, chart: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(generator), "--values", str(chart / "values.yaml"), "--readme", str(chart / "README.md"),
                           "--schema", str(chart / "values.schema.json")], capture_output=True, text=True)


def _copy_chart(tmp_path: Path) -> Path:
    copy = tmp_path / "rhdemo"
    shutil.copytree(CHART, copy)
    return copy


def test_readme_and_schema_are_what_the_generator_makes_of_values_yaml(readme_generator: Path, tmp_path: Path) -> None:
    """The staleness check: regenerate on a copy of the chart and compare with what is committed."""
    copy = _copy_chart(tmp_path)
    result = _generate(readme_generator, copy)
    assert result.returncode == 0, result.stdout + result.stderr
    stale = []
    for name in GENERATED:
        committed, generated = (CHART / name).read_text(), (copy / name).read_text()
        if committed != generated:
            diff = difflib.unified_diff(committed.splitlines(), generated.splitlines(),
                                        f"committed {name}", f"generated {name}", lineterm="", n=1)
            stale.append("\n".join(list(diff)[:40]))
    assert not stale, ("chart/rhdemo/README.md or values.schema.json is stale; regenerate with `"
                       f"{readme_generator} --values chart/rhdemo/values.yaml --readme chart/rhdemo/README.md "
                       "--schema chart/rhdemo/values.schema.json`\n" + "\n".join(stale))


def test_a_value_without_param_line_is_refused(readme_generator: Path, tmp_path: Path) -> None:
    """Every value carries a `## @param` line: the generator fails naming the undocumented one."""
    copy = _copy_chart(tmp_path)
    values = copy / "values.yaml"
    values.write_text(values.read_text().replace("  replicaCount: 1\n", "  replicaCount: 1\n  undocumented: 2\n"))
    result = _generate(readme_generator, copy)
    assert result.returncode != 0
    assert "Missing metadata for key: rhdemo.undocumented" in result.stdout


def test_every_problem_is_reported_at_once(helm: Helm) -> None:
    """rhdemo.validateValues: the rules the generated schema cannot express, all listed in one failure."""
    values = {"passwordSync.mode": "robustt", "migrations.mode": "flyway", "rhdemo.service.nodePort": 8080,
              "rhdemo.image.pullPolicy": "Sometimes", "migrations.files": {"V2 add phone.sql": "SELECT 1;"},
              "postgresql-rhdemo.database.passwordSecret.name": "Rhdemo_Secret", "tests.resources.requests": None}
    result = subprocess.run([str(helm.path), "template", "rhdemo", str(CHART), *set_args(values)],
                            capture_output=True, text=True)
    assert result.returncode != 0
    for message in ('/passwordSync/mode: "robustt" is not one of robust, alternating, seed, none',
                    '/migrations/mode: "flyway" is not one of',
                    "/rhdemo/service/nodePort: 8080 is not 0 (any) nor a node port from 30000 to 32767",
                    '/rhdemo/image/pullPolicy: "Sometimes" is not one of Always, IfNotPresent, Never',
                    "/migrations/files: 'V2 add phone.sql' is not V<version>__<description>.sql",
                    '/postgresql-rhdemo/database/passwordSecret/name: "Rhdemo_Secret" is not a Kubernetes object name',
                    "/tests/resources: requests and limits are both required"):
        assert message in result.stderr, result.stderr


def test_the_removed_app_database_block_is_refused(helm: Helm) -> None:
    """The app's database is postgresql-rhdemo's: the old rhdemo.database.* must not be silently ignored."""
    result = subprocess.run([str(helm.path), "template", "rhdemo", str(CHART),
                             *set_args({"rhdemo.database.host": "elsewhere"})], capture_output=True, text=True)
    assert result.returncode != 0
    assert "/rhdemo/database: 'database' not allowed: the app connects to postgresql-rhdemo's database" in result.stderr


def test_the_generated_schema_checks_types(helm: Helm) -> None:
    """What the generated schema does say (each value's type) is enforced by helm itself."""
    result = subprocess.run([str(helm.path), "template", "rhdemo", str(CHART),
                             *set_args({"rhdemo.replicaCount": "two", "rhdemo.image.tag": 1.1})],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "/rhdemo/replicaCount" in result.stderr and "/rhdemo/image/tag" in result.stderr, result.stderr
