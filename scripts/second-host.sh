#!/usr/bin/env bash
# A second Docker host on this machine, for the multi-host deployment test: a network namespace of its own,
# joined to the machine by a veth pair, running its own dockerd reached over tcp:// with mutual TLS.
#
#   scripts/second-host.sh up [IMAGE...]   create (idempotent), then load IMAGEs from the primary engine
#   scripts/second-host.sh down            stop its dockerd, remove the namespace and the veth pair
#   scripts/second-host.sh env             print HOST_ADDR, PEER_ADDR, DOCKER_TCP, TLS_DIR, SOCKET as KEY=VALUE
#
# Addresses: the machine's end of the pair is 10.203.0.1 (where the service host's proxy is published for the
# test), the namespace's is 10.203.0.2 (its dockerd on :2376, its proxy's published ports). Its data-root
# /var/lib/dap-second-host survives `down`, so loaded images are kept for the next run. Root only.
set -euo pipefail

NS=dap-second-host
VETH_HOST=dapsh0
VETH_PEER=dapsh1
HOST_ADDR=10.203.0.1
PEER_ADDR=10.203.0.2
PORT=2376
STATE=/var/lib/dap-second-host
TLS_DIR=$STATE/tls
SOCKET=/run/dap-second-host/docker.sock
PIDFILE=/run/dap-second-host/docker.pid
LOG=/var/log/dap-second-host-dockerd.log

log() { printf '[second-host] %s\n' "$*" >&2; }

print_env() {
  printf '%s\n' "HOST_ADDR=$HOST_ADDR" "PEER_ADDR=$PEER_ADDR" "DOCKER_TCP=tcp://$PEER_ADDR:$PORT" \
    "TLS_DIR=$TLS_DIR" "SOCKET=unix://$SOCKET"
}

tls() {  # a CA, the server's certificate (SAN: the peer address) and a client certificate
  [ -s "$TLS_DIR/key.pem" ] && return 0
  mkdir -p "$TLS_DIR" && chmod 0700 "$TLS_DIR"
  (
    cd "$TLS_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=dap second host CA" \
      -keyout ca-key.pem -out ca.pem 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$PEER_ADDR" \
      -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$PEER_ADDR" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile server.ext \
      -out cert-server.pem 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=dap client" \
      -keyout key.pem -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile client.ext \
      -out cert.pem 2>/dev/null
    rm -f ./*.csr ./*.ext
    chmod 0600 ./*key.pem
  )
}

network() {
  ip netns list | grep -qw "$NS" || ip netns add "$NS"
  if ! ip link show "$VETH_HOST" >/dev/null 2>&1; then
    ip link add "$VETH_HOST" type veth peer name "$VETH_PEER"
    ip link set "$VETH_PEER" netns "$NS"
    ip addr add "$HOST_ADDR/24" dev "$VETH_HOST"
    ip link set "$VETH_HOST" up
    ip netns exec "$NS" ip addr add "$PEER_ADDR/24" dev "$VETH_PEER"
    ip netns exec "$NS" ip link set "$VETH_PEER" up
    ip netns exec "$NS" ip link set lo up
    ip netns exec "$NS" ip route add default via "$HOST_ADDR"
  fi
}

engine() {
  if docker -H "unix://$SOCKET" info >/dev/null 2>&1; then return 0; fi
  mkdir -p "$STATE/data" "$(dirname "$SOCKET")" /run/dap-second-host/exec
  log "starting its dockerd (log: $LOG)"
  # iptables inside the namespace are its own: containers get the usual NAT towards the machine's end
  # nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroup hierarchy dockerd needs
  nohup nsenter --net="/var/run/netns/$NS" dockerd -H "unix://$SOCKET" -H "tcp://$PEER_ADDR:$PORT" \
    --tlsverify --tlscacert "$TLS_DIR/ca.pem" --tlscert "$TLS_DIR/cert-server.pem" --tlskey "$TLS_DIR/server-key.pem" \
    --data-root "$STATE/data" --exec-root /run/dap-second-host/exec --pidfile "$PIDFILE" --bridge none \
    >>"$LOG" 2>&1 &
  for _ in $(seq 1 60); do
    docker -H "unix://$SOCKET" info >/dev/null 2>&1 && { log "dockerd up"; return 0; }
    sleep 1
  done
  tail -n 30 "$LOG" >&2
  return 1
}

load_images() {  # IMAGE...: copy from the primary engine what the second one lacks (no registry here)
  local img
  for img in "$@"; do
    if [ "$(docker -H "unix://$SOCKET" image inspect -f '{{.Id}}' "$img" 2>/dev/null)" != "$(docker image inspect -f '{{.Id}}' "$img")" ]; then
      log "loading $img"
      docker save "$img" | docker -H "unix://$SOCKET" load >/dev/null
    fi
  done
}

down() {
  if [ -s "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null; then
    for _ in $(seq 1 30); do [ -e "/proc/$(cat "$PIDFILE" 2>/dev/null)" ] || break; sleep 1; done
  fi
  ip link del "$VETH_HOST" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
}

case "${1:-}" in
  up) shift; [ "$(id -u)" = 0 ] || { log "root only"; exit 1; }
      tls; network; engine; load_images "$@"; print_env ;;
  down) down ;;
  env) print_env ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
