# Sourced by images/build.sh. Builds Go binaries on the host from module sources served by the
# Go module proxy (no VCS, no registry), caching sources, build cache and binaries under
# $DAP_IMG_CACHE/go. Needs the host's Go (GOTOOLCHAIN=local, CGO_ENABLED=0).

go_env() {
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod GOOS=linux GOARCH=amd64
  export GOMODCACHE="$DAP_IMG_CACHE/go/mod" GOCACHE="$DAP_IMG_CACHE/go/build"
  mkdir -p "$GOMODCACHE" "$GOCACHE" "$DAP_IMG_CACHE/go/src" "$DAP_IMG_CACHE/go/bin"
}

# go_module_dir MODULE VERSION -> prints a writable copy of the module's source tree
go_module_dir() {
  local mod=$1 ver=$2 src
  src="$DAP_IMG_CACHE/go/src/$(echo "$mod" | tr / _)@$ver"
  if [ ! -f "$src/go.mod" ]; then
    local dir
    dir=$(go mod download -json "$mod@$ver" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    rm -rf "$src.tmp"; cp -r "$dir" "$src.tmp"; chmod -R u+w "$src.tmp"; mv "$src.tmp" "$src"
  fi
  echo "$src"
}

# go_build NAME MODULE VERSION PKG LDFLAGS [TAGS] -> prints the path of the cached binary
go_build() {
  local name=$1 mod=$2 ver=$3 pkg=$4 ldflags=$5 tags=${6:-}
  go_env
  local key out src
  key=$(printf '%s\n' "$mod" "$ver" "$pkg" "$ldflags" "$tags" "$(go version)" | sha256sum | cut -c1-12)
  out="$DAP_IMG_CACHE/go/bin/$name-$ver-$key"
  if [ ! -x "$out" ]; then
    src=$(go_module_dir "$mod" "$ver")
    log "go build $name ($mod@$ver) ..."
    local t0=$SECONDS
    local glog="$DAP_IMG_CACHE/logs/go-build-$name.log"
    mkdir -p "$DAP_IMG_CACHE/logs"
    if ! ( cd "$src" && go build -trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$out.tmp" "$pkg" ) > "$glog" 2>&1; then
      grep -v '^go: downloading' "$glog" | tail -n 40 >&2
      log "go build $name failed (log: $glog)"
      return 1
    fi
    mv "$out.tmp" "$out"
    log "go build $name took $((SECONDS - t0))s"
  fi
  echo "$out"
}
