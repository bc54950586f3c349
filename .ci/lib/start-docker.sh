#!/usr/bin/env bash
# Starts the Docker engine by hand (these machines have no init system running services).
source "$(dirname "$0")/common.sh"
if docker info >/dev/null 2>&1; then log "docker engine already running"; docker version --format '{{.Server.Version}}'; exit 0; fi
nohup dockerd >/tmp/rhdemo-lab-ci/dockerd.log 2>&1 &
for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker info >/dev/null 2>&1 || { tail -n 30 /tmp/rhdemo-lab-ci/dockerd.log; exit 1; }
docker version --format '{{.Server.Version}}'
