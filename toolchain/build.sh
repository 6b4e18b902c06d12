#!/usr/bin/env bash
# Build the offline Pulumi toolchain: the CLI (Go module proxy), the Python language host and the docker,
# command, tls and random plugins (source bundles in ../shared/upstream-src + the proxy). Outputs are cached
# outside the checkout, keyed by the versions:
#
#   ${DAP_CACHE_DIR:-$HOME/.cache/dap}/toolchain/<TOOLCHAIN_KEY>/bin          binaries
#   ${DAP_CACHE_DIR:-$HOME/.cache/dap}/toolchain/<TOOLCHAIN_KEY>/pulumi-home  PULUMI_HOME with the plugins
#   ${DAP_CACHE_DIR:-$HOME/.cache/dap}/go/{mod,build}                         GOMODCACHE, GOCACHE
#
# Usage: toolchain/build.sh [--force] [COMPONENT...]
#   COMPONENT: pulumi language-python command random tls docker (default: all)
#   --force    rebuild even if a cached binary answers the right version
# Env: DAP_UPSTREAM_SRC  the source bundles (default: <repo>/../shared/upstream-src); SHA256SUMS is checked.
# Exit status: 0 when every requested component is built and registered, 1 otherwise.
# Versions come from toolchain/versions.env. See toolchain/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
UPSTREAM_SRC="${DAP_UPSTREAM_SRC:-$HERE/../../shared/upstream-src}"

CACHE_ROOT="${DAP_CACHE_DIR:-$HOME/.cache/dap}"
TC="$CACHE_ROOT/toolchain/$TOOLCHAIN_KEY"
BIN="$TC/bin"
PHOME="$TC/pulumi-home"
WORK="$TC/.work"

export GOMODCACHE="$CACHE_ROOT/go/mod"
export GOCACHE="$CACHE_ROOT/go/build"
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
export GOFLAGS="-modcacherw -buildvcs=false"
unset GOOS GOARCH

FORCE=0
COMPONENTS=()
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    pulumi|language-python|command|random|tls|docker) COMPONENTS+=("$a") ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
[ ${#COMPONENTS[@]} -gt 0 ] || COMPONENTS=(pulumi language-python command random tls docker)

log() { printf '[toolchain %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

command -v go >/dev/null || { log "go not found on PATH"; exit 1; }
mkdir -p "$TC"
# One build per toolchain key at a time (they share .work/ and bin/).
if command -v flock >/dev/null; then
  exec 9>"$TC/.lock"
  flock -w 7200 9 || { log "another build.sh holds $TC/.lock"; exit 1; }
fi
mkdir -p "$BIN" "$PHOME" "$WORK" "$GOMODCACHE" "$GOCACHE" "$BIN/.stamps"
log "key:        $TOOLCHAIN_KEY"
log "toolchain:  $TC"
log "GOMODCACHE: $GOMODCACHE"
log "GOCACHE:    $GOCACHE"
log "$(go version)"

# The bundles are read only when a component must be built (a warm run needs none of them): checked once then.
SOURCES_OK=0
check_sources() {
  [ "$SOURCES_OK" = 1 ] && return 0
  [ -f "$UPSTREAM_SRC/SHA256SUMS" ] || { log "no source bundles at $UPSTREAM_SRC (set DAP_UPSTREAM_SRC)"; return 1; }
  UPSTREAM_SRC="$(cd "$UPSTREAM_SRC" && pwd)"
  (cd "$UPSTREAM_SRC" && sha256sum -c --quiet SHA256SUMS) || { log "checksum mismatch in $UPSTREAM_SRC/SHA256SUMS"; return 1; }
  log "sources:    $UPSTREAM_SRC (SHA256SUMS ok)"
  SOURCES_OK=1
}

# ---------------------------------------------------------------------------------------------------------
# helpers

# moddir MODULE@VERSION -> prints the extracted module directory (downloads it through the proxy)
moddir() {
  local json dir
  json="$(cd "$WORK" && go mod download -json "$1" 2>&1)" || true
  dir="$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    log "go mod download $1 failed:"; printf '%s\n' "$json" >&2
    return 1
  fi
  printf '%s\n' "$dir"
}

# fresh_copy SRC DST: writable copy of a read-only module directory
fresh_copy() {
  rm -rf "$2" && mkdir -p "$(dirname "$2")" && cp -R "$1" "$2" && chmod -R u+w "$2"
}

stamp_ok() { [ -f "$BIN/.stamps/$1" ] && [ "$(cat "$BIN/.stamps/$1")" = "$2" ]; }
write_stamp() { printf '%s' "$2" >"$BIN/.stamps/$1.tmp" && mv "$BIN/.stamps/$1.tmp" "$BIN/.stamps/$1"; }

# install_bin STAGED_FILE NAME: atomic move into $BIN
install_bin() {
  chmod 0755 "$1"
  mv -f "$1" "$BIN/$2.tmp.$$" && mv -f "$BIN/$2.tmp.$$" "$BIN/$2"
}

# register_plugin NAME VERSION: copies $BIN/pulumi-resource-NAME into $PHOME via the CLI
register_plugin() {
  local name="$1" ver="$2" dir="$PHOME/plugins/resource-$1-v$2"
  if [ -x "$dir/pulumi-resource-$name" ] && [ ! -e "$dir.partial" ] \
     && cmp -s "$dir/pulumi-resource-$name" "$BIN/pulumi-resource-$name"; then
    return 0
  fi
  [ -x "$BIN/pulumi" ] || { log "cannot register $name: no pulumi binary"; return 1; }
  rm -rf "$dir" "$dir.partial" "$dir.lock"
  PULUMI_HOME="$PHOME" PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true \
    "$BIN/pulumi" plugin install resource "$name" "$ver" --file "$BIN/pulumi-resource-$name" >&2
  [ -x "$dir/pulumi-resource-$name" ] && [ ! -e "$dir.partial" ]
}

# gobuild ARGS...: `go build -trimpath ARGS` in the current directory. The sources are release go.mod/go.sum
# files used as they are (-mod=readonly); only if that fails for a missing go.sum line/requirement (e.g. a
# local replace whose go.mod differs slightly) it is retried once with -mod=mod, checksums then coming from
# the checksum database through the proxy.
gobuild() {
  local out rc
  out="$(mktemp)"
  go build -trimpath "$@" 2>"$out" && { cat "$out" >&2; rm -f "$out"; return 0; }
  cat "$out" >&2
  if grep -q -E 'missing go.sum entry|updates to go.mod needed|no required module provides' "$out"; then
    rm -f "$out"
    log "retrying with -mod=mod in $PWD"
    go build -trimpath -mod=mod "$@"; rc=$?
    return $rc
  fi
  rm -f "$out"; return 1
}
GOBUILD=(gobuild)

# ---------------------------------------------------------------------------------------------------------
# components. Each build_X stages into $WORK and moves into $BIN only after the result checks out.

PULUMI_LDFLAG_VAR=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version

# Reconstructs pulumi/pulumi's pkg/ + sdk/ side by side (pkg/go.mod has `replace .../sdk/v3 => ../sdk`).
pulumi_src() {
  local pkg sdk
  pkg="$(moddir "github.com/pulumi/pulumi/pkg/v3@$PULUMI_PKG_MODULE_VERSION")" || return 1
  sdk="$(moddir "github.com/pulumi/pulumi/sdk/v3@$PULUMI_SDK_MODULE_VERSION")" || return 1
  fresh_copy "$pkg" "$WORK/pulumi/pkg" && fresh_copy "$sdk" "$WORK/pulumi/sdk"
}

check_pulumi() { [ -x "$BIN/pulumi" ] && [ "$("$BIN/pulumi" version 2>/dev/null)" = "v$PULUMI_VERSION" ]; }
build_pulumi() {
  pulumi_src || return 1
  ( cd "$WORK/pulumi/pkg" &&
    "${GOBUILD[@]}" -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X $PULUMI_LDFLAG_VAR=v$PULUMI_VERSION" -o "$WORK/out/pulumi" ./cmd/pulumi ) || return 1
  [ "$("$WORK/out/pulumi" version)" = "v$PULUMI_VERSION" ] || { log "built pulumi does not answer v$PULUMI_VERSION"; return 1; }
  install_bin "$WORK/out/pulumi" pulumi
}

# The language host and the four providers come from the source bundles in $UPSTREAM_SRC (the modules the
# Go module proxy refuses, exported at exact release refs; see its README). Every other dependency comes from
# the proxy (-mod=mod: the release go.sum files plus the checksum database). The bundles are build inputs
# only: they are unpacked into .work/ and never copied into the checkout.
bundle() { # NAME BUNDLE: unpack $UPSTREAM_SRC/BUNDLE.tar.gz into $WORK/NAME
  check_sources || return 1
  rm -rf "${WORK:?}/$1" && mkdir -p "$WORK/$1" && tar -xzf "$UPSTREAM_SRC/$2.tar.gz" -C "$WORK/$1"
}
# pulumi-terraform-bridge imports pulumi-yaml and pulumi-language-dotnet at versions the proxy refuses.
bridge_replaces() {
  [ -d "$WORK/bridge" ] || bundle bridge pulumi-bridge-imports
  go mod edit -replace github.com/pulumi/pulumi-yaml="$WORK/bridge/pulumi-yaml" \
    -replace github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3="$WORK/bridge/pulumi-language-dotnet"
}

LANGHOST_BUNDLE="pulumi-language-python-$PULUMI_VERSION"
LANGHOST_STAMP() { echo "$PULUMI_VERSION $LANGHOST_BUNDLE r$TOOLCHAIN_RECIPE_REV"; }
check_language_python() {
  [ -x "$BIN/pulumi-language-python" ] && [ -f "$BIN/pulumi-language-python-exec" ] &&
    [ "$("$BIN/pulumi-language-python" -version 2>/dev/null)" = "v$PULUMI_VERSION" ] &&
    stamp_ok language-python "$(LANGHOST_STAMP)"
}
build_language_python() {
  bundle lh "$LANGHOST_BUNDLE" || return 1
  # Its go.mod replaces pkg/v3 and sdk/v3 with the monorepo's folders: use the served modules instead.
  ( cd "$WORK/lh/pulumi-language-python" &&
    go mod edit -dropreplace github.com/pulumi/pulumi/pkg/v3 -dropreplace github.com/pulumi/pulumi/sdk/v3 \
      -require "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
      -require "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" &&
    go build -trimpath -mod=mod -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X $PULUMI_LDFLAG_VAR=v$PULUMI_VERSION" -o "$WORK/out/pulumi-language-python" . ) || return 1
  [ "$("$WORK/out/pulumi-language-python" -version)" = "v$PULUMI_VERSION" ] || return 1
  # The host runs `python <its own dir>/pulumi-language-python-exec`.
  install -m 0755 "$WORK/lh/pulumi-language-python-exec" "$WORK/out/pulumi-language-python-exec" || return 1
  install_bin "$WORK/out/pulumi-language-python-exec" pulumi-language-python-exec || return 1
  install_bin "$WORK/out/pulumi-language-python" pulumi-language-python || return 1
  write_stamp language-python "$(LANGHOST_STAMP)"
}

# Resource providers. At build time the staged binary must answer its version: `pulumi package get-schema`
# runs it and the schema's "version" must equal the wanted one. Warm runs check, without running it, that
# the cached binary is the provider's main package (go version -m), carries the stamp written after that
# check (version, bundle, recipe), and is the copy registered in pulumi-home.
provider_stamp() { echo "$2 pulumi-$1-$2 r$TOOLCHAIN_RECIPE_REV"; }
provider_ok() { # NAME VERSION MODULE
  local b="$BIN/pulumi-resource-$1" info
  [ -x "$b" ] || return 1
  info="$(go version -m "$b" 2>/dev/null)" || return 1
  grep -q "^[[:space:]]*path[[:space:]]*$3/cmd/pulumi-resource-$1[[:space:]]*$" <<<"$info" || return 1
  stamp_ok "resource-$1" "$(provider_stamp "$1" "$2")" || return 1
  [ -x "$PHOME/plugins/resource-$1-v$2/pulumi-resource-$1" ] && [ ! -e "$PHOME/plugins/resource-$1-v$2.partial" ] &&
    cmp -s "$b" "$PHOME/plugins/resource-$1-v$2/pulumi-resource-$1"
}
provider_finish() { # NAME VERSION  (binary staged at $WORK/out/pulumi-resource-NAME)
  local got
  got="$(PULUMI_HOME="$WORK/pulumi-home-check" PULUMI_SKIP_UPDATE_CHECK=true \
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true PULUMI_DISABLE_REGISTRY_RESOLVE=true \
    "$BIN/pulumi" package get-schema "$WORK/out/pulumi-resource-$1" 2>&1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("version",""))' 2>/dev/null)" || got=""
  if [ "$got" != "$2" ]; then
    log "pulumi-resource-$1 answers schema version '$got', expected '$2'"; return 1
  fi
  install_bin "$WORK/out/pulumi-resource-$1" "pulumi-resource-$1" || return 1
  register_plugin "$1" "$2" || { log "registering $1 $2 failed"; return 1; }
  write_stamp "resource-$1" "$(provider_stamp "$1" "$2")"
}
# schema-embed.json is gitignored upstream (made by `VERSION=x go generate`): schema.json with "version" set.
schema_embed() { # CMD_DIR VERSION
  python3 -c '
import json, sys
src, dst, ver = sys.argv[1:4]
with open(src) as f:
    d = json.load(f)
d["version"] = ver
with open(dst, "w") as f:
    json.dump(d, f)
' "$1/schema.json" "$1/schema-embed.json" "$2"
}
# provider_build NAME VERSION MODULE [go build flags...]: in $WORK/NAME/provider
provider_build() {
  local name="$1" ver="$2" mod="$3"; shift 3
  ( cd "$WORK/$name/provider" &&
    go build -trimpath -mod=mod "$@" -ldflags "-s -w -X $mod/pkg/version.Version=$ver" \
      -o "$WORK/out/pulumi-resource-$name" "./cmd/pulumi-resource-$name" ) || return 1
  provider_finish "$name" "$ver"
}

CMD_MODULE=github.com/pulumi/pulumi-command/provider
check_command() { provider_ok command "$COMMAND_PROVIDER_VERSION" "$CMD_MODULE"; }
build_command() {
  bundle command "pulumi-command-$COMMAND_PROVIDER_VERSION" || return 1
  provider_build command "$COMMAND_PROVIDER_VERSION" "$CMD_MODULE"
}

RANDOM_MODULE=github.com/pulumi/pulumi-random/provider/v4
check_random() { provider_ok random "$RANDOM_PROVIDER_VERSION" "$RANDOM_MODULE"; }
build_random() {
  bundle random "pulumi-random-$RANDOM_PROVIDER_VERSION" || return 1
  schema_embed "$WORK/random/provider/cmd/pulumi-resource-random" "$RANDOM_PROVIDER_VERSION" || return 1
  (cd "$WORK/random/provider" && bridge_replaces) || return 1
  provider_build random "$RANDOM_PROVIDER_VERSION" "$RANDOM_MODULE"
}

TLS_MODULE=github.com/pulumi/pulumi-tls/provider/v5
check_tls() { provider_ok tls "$TLS_PROVIDER_VERSION" "$TLS_MODULE"; }
build_tls() {
  bundle tls "pulumi-tls-$TLS_PROVIDER_VERSION" || return 1
  schema_embed "$WORK/tls/provider/cmd/pulumi-resource-tls" "$TLS_PROVIDER_VERSION" || return 1
  (cd "$WORK/tls/provider" && bridge_replaces &&
   go mod edit -replace github.com/hashicorp/terraform-provider-tls="$WORK/tls/upstream") || return 1
  provider_build tls "$TLS_PROVIDER_VERSION" "$TLS_MODULE"
}

# docker: provider/go.mod replaces the Terraform provider with ../upstream (a git submodule upstream; the
# bundle holds it at the submodule's commit) to which pulumi-docker's patches/ apply. -tags no_compose as the
# official build.
DOCKER_MODULE=github.com/pulumi/pulumi-docker/provider/v5
check_docker() { provider_ok docker "$DOCKER_PROVIDER_VERSION" "$DOCKER_MODULE"; }
build_docker() {
  local p
  bundle docker "pulumi-docker-$DOCKER_PROVIDER_VERSION" || return 1
  for p in "$WORK"/docker/patches/*.patch; do
    (cd "$WORK/docker/upstream" && patch -p1 -s <"$p") || { log "patch $p failed"; return 1; }
  done
  schema_embed "$WORK/docker/provider/cmd/pulumi-resource-docker" "$DOCKER_PROVIDER_VERSION" || return 1
  provider_build docker "$DOCKER_PROVIDER_VERSION" "$DOCKER_MODULE" -tags no_compose
}

# ---------------------------------------------------------------------------------------------------------
# driver

declare -A SECS STATUS
run_component() {
  local c="$1" fn="${1//-/_}" t0 t1
  if [ "$FORCE" = 0 ] && "check_$fn"; then
    STATUS[$c]="cached"; SECS[$c]=0
    log "$c: cached, skipping"
    return 0
  fi
  log "$c: building"
  rm -rf "$WORK/out"; mkdir -p "$WORK/out"
  t0=$(date +%s)
  if "build_$fn"; then
    STATUS[$c]="built"
  else
    STATUS[$c]="FAILED"
  fi
  t1=$(date +%s); SECS[$c]=$((t1 - t0))
  log "$c: ${STATUS[$c]} in ${SECS[$c]}s"
}

T_START=$(date +%s)
rm -f "$TC/.complete"
for c in "${COMPONENTS[@]}"; do run_component "$c"; done
T_END=$(date +%s)
# Sources are copied per build from the module cache: drop them (the module and build caches stay).
rm -rf "$WORK"

FAILED=0
echo
echo "== toolchain $TOOLCHAIN_KEY"
for c in "${COMPONENTS[@]}"; do
  printf '  %-16s %-7s %6ss\n' "$c" "${STATUS[$c]}" "${SECS[$c]}"
  [ "${STATUS[$c]}" != FAILED ] || FAILED=1
done
printf '  %-16s %-7s %6ss\n' total "" "$((T_END - T_START))"
echo "== disk used"
du -sh "$TC" "$GOMODCACHE" "$GOCACHE" 2>/dev/null | sed 's/^/  /'
du -sh "$BIN" 2>/dev/null | sed 's/^/  /'

# The marker says: every component is present and answers its version. The wrapper requires it.
all_ok=1
for c in pulumi language-python command random tls docker; do
  "check_${c//-/_}" 2>/dev/null || { all_ok=0; break; }
done
if [ "$all_ok" = 1 ]; then
  printf '%s\n' "$TOOLCHAIN_KEY" >"$TC/.complete.tmp" && mv "$TC/.complete.tmp" "$TC/.complete"
  echo "== complete: $TC/.complete"
else
  echo "== incomplete: no $TC/.complete marker (see statuses above)"
fi
exit "$FAILED"
