#!/usr/bin/env bash
# Make sure a Docker Engine answers on the default socket (and, with --second, a second
# independent engine on /run/docker-b.sock that stands in for a second Docker host).
# Installs Debian's docker.io when the daemon binary is missing. Idempotent.
set -euo pipefail

log() { printf '[docker-engine] %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "must run as root to install or start dockerd"; exit 1
  fi
}

ensure_package() {
  if ! command -v dockerd >/dev/null 2>&1; then
    need_root
    log "installing Debian's docker.io"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
}

wait_for() {  # $1 = DOCKER_HOST, $2 = seconds
  local i
  for i in $(seq 1 "$2"); do
    if docker -H "$1" info >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  return 1
}

start_primary() {
  if docker -H unix:///var/run/docker.sock info >/dev/null 2>&1; then return 0; fi
  ensure_package
  need_root
  log "starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  wait_for unix:///var/run/docker.sock 60 || { tail -n 30 /var/log/dockerd.log >&2; exit 1; }
  log "dockerd up"
}

start_second() {
  local sock=unix:///run/docker-b.sock
  if docker -H "$sock" info >/dev/null 2>&1; then return 0; fi
  ensure_package
  need_root
  log "starting second dockerd on /run/docker-b.sock (log: /var/log/dockerd-b.log)"
  mkdir -p /var/lib/docker-b /run/docker-b
  nohup dockerd -H "$sock" --data-root /var/lib/docker-b --exec-root /run/docker-b \
    --pidfile /run/docker-b.pid --bridge none --iptables=false >/var/log/dockerd-b.log 2>&1 &
  wait_for "$sock" 60 || { tail -n 30 /var/log/dockerd-b.log >&2; exit 1; }
  log "second dockerd up"
}

start_primary
if [ "${1:-}" = "--second" ]; then start_second; fi
