#!/usr/bin/env bash
# Installs what a purpose needs on a Debian machine, only what is missing; idempotent.
#   scripts/setup.sh build    the build: a C/C++ compiler and cmake (whisper.cpp, libopus)
#   scripts/setup.sh test     the build, plus what the tests drive: Debian's chromium, Node.js with
#                             playwright-core (tests/browser; it never downloads a browser), pip and
#                             venv, Datasette (pinned, from PyPI, in tests/.venv)
#   scripts/setup.sh web      yt-dlp (pinned, from PyPI) in the data folder's yt-dlp/ venv, where
#                             vidscribe finds it: `run URL` needs it for player embeds (YouTube…)
#   scripts/setup.sh bench    the build, plus sox and ffmpeg (make the long inputs and the report's
#                             MKV and shifted copies), time(1) and pip/venv
#                             (faster-whisper, the peer, goes in models/.cache/peer-venv)
# `test` also installs ffmpeg (the web tests make the containers yt-dlp delivers), yt-dlp in
# tests/.venv, and PostgreSQL (Debian's postgresql: the shared-archive tests start their own
# server with scripts/pg-server.sh; `bench` too, for --serve).
# Several purposes may be given at once.
set -euo pipefail
cd "$(dirname "$0")/.."
(($#)) || set -- build

missing=()
need_cmd() { command -v "$1" >/dev/null || missing+=("$2"); }
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }
want_test=false
want_web=false
ytdlp=yt-dlp==2026.10.26
for purpose in "$@"; do
  case "$purpose" in
    build | test | bench | web) ;;
    *) echo "setup: unknown purpose '$purpose' (build, test, web or bench)" >&2; exit 2 ;;
  esac
  need_cmd cc gcc
  need_cmd c++ g++
  need_cmd make make
  need_cmd cmake cmake
  need_cmd python3 python3
  command -v pip >/dev/null || command -v pip3 >/dev/null || missing+=(python3-pip)
  python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
  case "$purpose" in
    test)
      want_test=true
      need_cmd chromium chromium
      need_cmd npm npm
      need_cmd node nodejs
      need_cmd ffmpeg ffmpeg
      need_pkg postgresql
      ;;
    web) want_web=true ;;
    bench)
      need_cmd sox sox
      need_cmd ffmpeg ffmpeg
      [[ -x /usr/bin/time ]] || missing+=(time)
      need_cmd lscpu util-linux
      need_pkg postgresql
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
  if [[ ! -x tests/.venv/bin/yt-dlp ]] || [[ $(tests/.venv/bin/yt-dlp --version) != "${ytdlp#*==}" ]]; then
    tests/.venv/bin/pip install --quiet --disable-pip-version-check "$ytdlp"
  fi
fi

if $want_web; then
  data=${VIDSCRIBE_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/vidscribe}
  if [[ ! -x $data/yt-dlp/bin/yt-dlp ]] || [[ $("$data/yt-dlp/bin/yt-dlp" --version) != "${ytdlp#*==}" ]]; then
    python3 -m venv "$data/yt-dlp"
    "$data/yt-dlp/bin/pip" install --quiet --disable-pip-version-check "$ytdlp"
    echo "setup: $("$data/yt-dlp/bin/yt-dlp" --version) in $data/yt-dlp" >&2
  fi
fi
