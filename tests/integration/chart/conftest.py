"""Fixtures of the chart tests: the real helm binaries (Helm 3 and 4, built by .ci/lib/install-helm.sh)."""

from __future__ import annotations

import pytest

from tests.integration.chart.chartlib import Helm, find_helm_binaries

_HELMS = find_helm_binaries()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test taking `helm` runs once per helm binary found."""
    if "helm" in metafunc.fixturenames:
        metafunc.parametrize("helm", _HELMS or [None], ids=[h.version for h in _HELMS] or ["no-helm"])


@pytest.fixture
def helm(request: pytest.FixtureRequest) -> Helm:
    found: Helm | None = request.param
    if found is None:
        pytest.fail("no helm binary: run `bash .ci/lib/install-helm.sh` (builds Helm 3 and 4 into "
                    "$RHDEMO_LAB_CACHE/bin) or set HELM_BINARIES=/path/helm3:/path/helm4")
    return found


@pytest.fixture(scope="session")
def helm3() -> Helm:
    """One helm for tests that only need a render (the scripts' tests)."""
    if not _HELMS:
        pytest.fail("no helm binary: run `bash .ci/lib/install-helm.sh` or set HELM_BINARIES")
    return sorted(_HELMS, key=lambda h: h.major)[0]
