# The set-up on a fresh machine, as phases: installs what is missing, builds the registry-free parts
# with `lab build` (cached in $RHDEMO_LAB_CACHE), then brings the stack up with `lab up`.
# Sourced by .ci/up (the README's set-up command) and by .ci/run (which then runs the tests).
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REPORTS="${RHDEMO_LAB_REPORTS:-$PWD/reports}"
mkdir -p "$REPORTS" /tmp/rhdemo-lab-ci
export PATH="$PWD/.venv/bin:$CACHE_BIN:$PATH"
# CI machines reach the registries through a TLS-inspecting proxy: image builds need its CA
# (a public certificate bundle, not a secret).
export RHDEMO_LAB_CA_CERT="${RHDEMO_LAB_CA_CERT:-/etc/ssl/certs/ca-certificates.crt}"
export RHDEMO_LAB_REPORTS="$REPORTS"
export FLYWAY_CLI="$RHDEMO_LAB_CACHE/flyway-cli/$FLYWAY_VERSION/flyway-$FLYWAY_VERSION/flyway"

# Set by the "stack up" phase's start: from then on there is a cluster to diagnose and delete.
stack_started=0

setup_phases() {
  phase "system packages" .ci/lib/install-system.sh
  phase "docker engine" .ci/lib/start-docker.sh
  phase "python env" bash -c 'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" -e ./app-stub'
  phase "lint" bash -c '.venv/bin/pip install -q -e ".[lint]" && ruff check lab scenarios && mypy'
  phase "helm" .ci/lib/install-helm.sh
  phase "readme generator" .ci/lib/install-readme-generator.sh
  phase "flyway cli" .ci/lib/install-flyway.sh
  phase "reference app" .ci/lib/build-reference-app.sh
  # The jar the conformance suite (tests/conformance) runs next to the stub.
  RHDEMO_REFERENCE_JAR="$(.ci/lib/build-reference-app.sh --path)"
  export RHDEMO_REFERENCE_JAR
  # The registry-free parts, built by the lab itself (what a user runs), a phase each.
  phase "kubernetes binaries" lab build --verbose kubernetes
  phase "go tools" lab build --verbose go-tools
  phase "node image" lab build --verbose node-image
  phase "image set" lab build --verbose images
  stack_started=1
  # No image flags: with no registry answering, `lab up` picks the registry-free set itself (remembered).
  phase "stack up" lab up
}
