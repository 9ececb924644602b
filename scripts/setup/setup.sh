#!/usr/bin/env bash
# Installs what `make dev` and `make test` need on a fresh Debian machine of this kind, and
# nothing that is already there. Both Make targets run it first, so the README's two commands
# set a machine up on their own; CI calls only those commands plus lint and vuln.
#
# Each requirement is a check and the Debian package that satisfies it. Missing packages are
# installed with apt-get when running as root; otherwise the script names them and fails.
set -euo pipefail

# check command | Debian package | why
requirements=(
  "command -v java|default-jre-headless|the Firestore and Pub/Sub emulators run on Java"
  "test -x /usr/bin/chromium|chromium|browser tests drive headless Chromium"
  "test -d ${CLOUDSDK_ROOT_DIR:-/usr/lib/google-cloud-sdk}/platform/cloud-firestore-emulator|google-cloud-cli-firestore-emulator|the official Firestore emulator"
  "test -d ${CLOUDSDK_ROOT_DIR:-/usr/lib/google-cloud-sdk}/platform/pubsub-emulator|google-cloud-cli-pubsub-emulator|the official Pub/Sub emulator"
  "command -v npm|npm|the spec's tools (openapi-typescript, tsc) install with npm"
  "command -v node|nodejs|the TypeScript SDK builds and is tested on Node.js (18 or later)"
  "command -v python3|python3|the Python SDK is tested with the standard library's unittest"
  "command -v mypy|mypy|checks the Python SDK's type hints (mypy --strict)"
  "command -v kotlinc|kotlin|the Kotlin SDK compiles with kotlinc"
  "test -f /usr/share/java/gson.jar|libgoogle-gson-java|the Kotlin SDK's JSON library"
  "test -f /usr/share/java/junit4.jar|junit4|the Kotlin SDK's tests run on JUnit 4"
)
# Extra requirements a target adds (for example the SDK toolchains), same format, one per line.
if [ -n "${TOK_SETUP_EXTRA:-}" ]; then
  while IFS= read -r line; do [ -n "$line" ] && requirements+=("$line"); done <<<"$TOK_SETUP_EXTRA"
fi

install_packages() {
  echo "setup: installing ${missing[*]}"
  printf '%s\n' "${reasons[@]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: not root, cannot apt-get install; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/tok-setup-apt.log 2>&1; then
    apt-get update -qq >>/tmp/tok-setup-apt.log 2>&1 || true
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/tok-setup-apt.log 2>&1; then
      for pkg in "${missing[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || echo "setup: could not install Debian package '$pkg' (log: /tmp/tok-setup-apt.log)" >&2
      done
      exit 1
    fi
  fi
  echo "setup: installed ${missing[*]}"
}

# The spec's npm tools, pinned by api/tools/package-lock.json, in .tok/node (outside the Go
# module's packages); reinstalled only when the lockfile changes. An installed tree is kept in
# the user's cache under the hash of the lockfile and of node and npm, as Go keeps its module
# cache, so a fresh clone copies it instead of running npm ci again.
install_node_tools() {
  local root dir key cached tmp
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  dir="$root/.tok/node"
  if cmp -s "$root/api/tools/package-lock.json" "$dir/package-lock.json" && [ -d "$dir/node_modules" ]; then
    return 0
  fi
  key="$( (cat "$root/api/tools/package.json" "$root/api/tools/package-lock.json"
    stat -L -c '%n %s %Y' "$(command -v node)" "$(command -v npm)") | sha256sum | cut -c1-64)"
  cached="${XDG_CACHE_HOME:-$HOME/.cache}/tok/node-tools/$key"
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ -d "$cached/node_modules" ] && cp -a "$cached/node_modules" "$dir/"; then
    echo "setup: api/tools' node_modules from $cached"
  else
    rm -rf "$dir/node_modules"
    echo "setup: npm ci of api/tools into .tok/node"
    cp "$root/api/tools/package.json" "$root/api/tools/package-lock.json" "$dir/"
    if ! npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/tmp/tok-setup-npm.log 2>&1; then
      rm -f "$dir/package-lock.json"
      echo "setup: npm ci of api/tools failed (log: /tmp/tok-setup-npm.log)" >&2
      exit 1
    fi
    # Kept whole or not at all: a temporary copy renamed.
    if mkdir -p "$(dirname "$cached")" && tmp="$(mktemp -d "$(dirname "$cached")/tmp-XXXXXX")"; then
      cp -a "$dir/node_modules" "$tmp/" && mv -T "$tmp" "$cached" 2>/dev/null
      rm -rf "$tmp"
    fi
  fi
  # Written last: it marks the tree complete.
  cp "$root/api/tools/package.json" "$root/api/tools/package-lock.json" "$dir/"
}

# Go tools the benchmarks run (make bench), pinned, built from the Go module proxy into
# .tok/tools; reinstalled only when the pin changes.
go_tools=(
  "hey|github.com/rakyll/hey@v0.1.5|the API-path load test (functions/accounts BenchmarkTransactionsLoad)"
)
install_go_tools() {
  local root dir name mod
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  dir="$root/.tok/tools"
  for tool in "${go_tools[@]}"; do
    IFS='|' read -r name mod _ <<<"$tool"
    if [ -x "$dir/$name" ] && [ "$(cat "$dir/$name.version" 2>/dev/null)" = "$mod" ]; then
      continue
    fi
    echo "setup: go install $mod into .tok/tools"
    mkdir -p "$dir"
    if ! GOBIN="$dir" go install "$mod" >/tmp/tok-setup-go.log 2>&1; then
      echo "setup: go install $mod failed (log: /tmp/tok-setup-go.log)" >&2
      exit 1
    fi
    echo "$mod" >"$dir/$name.version"
  done
}

missing=()
reasons=()
for req in "${requirements[@]}"; do
  IFS='|' read -r check pkg why <<<"$req"
  if ! bash -c "$check" >/dev/null 2>&1; then
    missing+=("$pkg")
    reasons+=("  $pkg: $why")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  install_packages
fi
install_node_tools
install_go_tools

