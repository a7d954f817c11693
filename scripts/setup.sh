#!/usr/bin/env bash
# Installs what a purpose needs on a Debian machine, only what is missing; idempotent.
#   scripts/setup.sh build    the build: a C/C++ compiler, cmake and libclang (whisper.cpp, bindgen)
#   scripts/setup.sh test     the build, plus what the tests drive: Debian's chromium, Node.js with
#                             playwright-core (tests/browser; it never downloads a browser), pip and
#                             venv, Datasette (pinned, from PyPI, in tests/.venv)
#   scripts/setup.sh bench    the build, plus sox (makes the long inputs), time(1) and pip/venv
#                             (faster-whisper, the peer, goes in models/.cache/peer-venv)
# Several purposes may be given at once.
set -euo pipefail
cd "$(dirname "$0")/.."
(($#)) || set -- build

missing=()
need_cmd() { command -v "$1" >/dev/null || missing+=("$2"); }
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }
want_test=false
for purpose in "$@"; do
  case "$purpose" in
    build | test | bench) ;;
    *) echo "setup: unknown purpose '$purpose' (build, test or bench)" >&2; exit 2 ;;
  esac
  need_cmd cc gcc
  need_cmd c++ g++
  need_cmd make make
  need_cmd cmake cmake
  need_pkg libclang-dev
  need_cmd python3 python3
  command -v pip >/dev/null || command -v pip3 >/dev/null || missing+=(python3-pip)
  python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
  case "$purpose" in
    test)
      want_test=true
      need_cmd chromium chromium
      need_cmd npm npm
      need_cmd node nodejs
      ;;
    bench)
      need_cmd sox sox
      [[ -x /usr/bin/time ]] || missing+=(time)
      need_cmd lscpu util-linux
      ;;
  esac
done
# Each package once, in the order first named.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk 'NF && !seen[$0]++')
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if $want_test; then
  if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
  fi
  if [[ ! -x tests/.venv/bin/datasette ]]; then
    python3 -m venv tests/.venv
    tests/.venv/bin/pip install --quiet --disable-pip-version-check datasette==0.65.5
  fi
fi
