#!/usr/bin/env bash
# Installs what Distill needs on Debian 12, idempotently: the Debian packages below that are missing, and the
# pinned npm reference packages (tools/npm/package-lock.json) into tools/npm/node_modules.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(build-essential cmake ninja-build pkg-config nodejs npm
  libtorch-dev libopenblas-dev libsentencepiece-dev nlohmann-json3-dev libabsl-dev libgtest-dev
  libbenchmark-dev libcurl4-openssl-dev libcpp-httplib-dev libutf8proc-dev libpcre2-dev libyaml-cpp-dev
  libcli11-dev libxxhash-dev libgloo-dev python3-torch chromium)

missing=()
for p in "${packages[@]}"; do
  # node and npm may come from elsewhere (nvm, nodesource); only ask apt when the command is absent.
  case "$p" in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm_dir="$root/tools/npm"
stamp="$npm_dir/node_modules/.distill-lock.sha256"
want=$(sha256sum "$npm_dir/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing pinned npm reference packages into tools/npm/node_modules"
  (cd "$npm_dir" && npm ci --omit=optional --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
echo "setup: ok"
