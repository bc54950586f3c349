"""Schemathesis against the description the stub serves (/v3/api-docs), the real stub process and a real
PostgreSQL: generated requests, valid and invalid (wrong types, numbers out of range, NUL and other odd
strings, missing or extra fields), must never get a 5xx, and every answer must conform to the description
(documented status, content type, body schema). The number of examples is bounded (about 30 s here).

Schemathesis runs as its CLI (`st run`): its pytest plugin's lazy loader (`from_fixture`, needed to read the
schema from a process started by a fixture) fails under pytest 9 (`'Function' object has no attribute
'_nodeid'`, schemathesis 4.32), and the CLI reads the served description exactly as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from tests.integration.stub.conftest import Stub, StubRunner

pytestmark = pytest.mark.integration

MAX_EXAMPLES = os.environ.get("RHDEMO_STUB_FUZZ_EXAMPLES", "25")  # per operation and phase
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def schemathesis_cli() -> str:
    candidate = Path(sys.executable).parent / "st"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("st")
    if not found:
        pytest.fail("schemathesis is not installed: pip install -e '.[test]'")
    return found


@pytest.mark.timeout(240)
def test_no_5xx_and_answers_conform_to_the_served_description(stubs: StubRunner, http: httpx.Client,
                                                              tmp_path: Path) -> None:
    stub: Stub = stubs.run_started(RHDEMO_APP_VERSION="1.1")
    seeded = http.post(f"{stub.api}/api/employes", json={"prenom": "Alice", "nom": "Martin", "mail": "a@rhdemo.fr"})
    assert seeded.status_code == 201  # an existing id, so GET/PUT/DELETE by id reach the database too
    command = [schemathesis_cli(), "run", f"{stub.api}/v3/api-docs", "--checks", CHECKS,
               "--mode", "all", "--phases", "examples,coverage,fuzzing", "--max-examples", MAX_EXAMPLES,
               "--seed", "20261202", "--workers", "1", "--request-timeout", "30",
               "--generation-database", "none", "--no-color",
               "--report", "junit", "--report-dir", str(tmp_path / "report")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=220, cwd=tmp_path,
                            env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "Traceback" not in stub.output, stub.output
    # Every operation was exercised, with many cases (a description that no longer matched the routes, or
    # data the API mostly rejects, would test little).
    report = ET.parse(next((tmp_path / "report").glob("junit-*.xml"))).getroot()
    assert {case.get("name") for case in report.iter("testcase")} == {
        "GET /api/employes", "POST /api/employes", "GET /api/employes/{id}", "PUT /api/employes/{id}",
        "DELETE /api/employes/{id}"}
    assert "Schema validation mismatch" not in result.stdout, result.stdout
    assert stub.stop() == 143
