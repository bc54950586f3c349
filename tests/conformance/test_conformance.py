"""The stub against the reference Spring Boot app (reference-app/), both as real processes against a
real PostgreSQL in the same states; every difference not listed in differences.py fails. The run
rewrites the comparison table in docs/app-stub.md."""

from __future__ import annotations

import contextlib
import os
import tempfile
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conformance import compare
from tests.conformance.apps import REPO, ReferenceAppMissing, kill_leftovers, reference_jar
from tests.conformance.cases import CASES, Observation
from tests.pgserver import PgServer

pytestmark = pytest.mark.integration
DOC = REPO / "docs" / "app-stub.md"
# Cases run three at a time (each one a JVM and a stub): the wall time stays near the slowest outage case.
PARALLEL_CASES = int(os.environ.get("RHDEMO_CONFORMANCE_PARALLEL", "3"))


@pytest.fixture(scope="session")
def comparison(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[dict[str, list[compare.Row] | str]]:
    # Only the cases selected for this session run (e.g. with -k); the table is written for a full run.
    selected = {item.callspec.params["case"] for item in request.session.items
                if hasattr(item, "callspec") and "case" in item.callspec.params}
    cases = [case for case in CASES if case.name in selected]
    try:
        reference_jar()
    except ReferenceAppMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    results: dict[str, list[compare.Row] | str] = {}
    # RHDEMO_CONFORMANCE_WORKDIR keeps every process's output (output.log per case and implementation).
    keep = os.environ.get("RHDEMO_CONFORMANCE_WORKDIR")
    with (contextlib.nullcontext(keep) if keep else tempfile.TemporaryDirectory(prefix="rhdemo-conformance-")) as workdir:
        def run(case_index: int) -> tuple[str, dict[str, Observation] | str]:
            case = cases[case_index]
            casedir = Path(workdir) / case.name
            casedir.mkdir(parents=True, exist_ok=True)
            os.chmod(casedir, 0o755)
            try:
                return case.name, case.run(pg_server, casedir)
            except Exception:  # reported as the case's failure, the other cases still run
                return case.name, traceback.format_exc()

        try:
            with ThreadPoolExecutor(max_workers=PARALLEL_CASES) as pool:
                outcomes = list(pool.map(run, range(len(cases))))
        finally:
            kill_leftovers()
    rows: list[compare.Row] = []
    for name, outcome in outcomes:
        if isinstance(outcome, str):
            results[name] = outcome
            continue
        case_rows = compare.compare(name, outcome["reference"], outcome["stub"])
        results[name] = case_rows
        rows.extend(case_rows)
    if len(cases) == len(CASES) and all(not isinstance(outcome, str) for _, outcome in outcomes):
        compare.write_table(DOC, compare.markdown(rows, {case.name: case.state for case in CASES}))
    yield results


@pytest.mark.parametrize("case", [case.name for case in CASES])
def test_stub_behaves_like_the_reference_app(comparison: dict[str, list[compare.Row] | str], case: str) -> None:
    outcome = comparison[case]
    if isinstance(outcome, str):
        pytest.fail(f"the case could not be observed:\n{outcome}")
    failed = [row for row in outcome if row.failed]
    assert not failed, "\n".join(
        f"{row.facet}:\n  " + "\n  ".join(row.details) for row in failed)
