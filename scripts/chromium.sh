#!/usr/bin/env bash
# Makes sure a Chromium (or Chrome) is there for the browser tests
# (cmd/chatapp/browser_test.go): installs Debian's chromium with apt-get when
# none is found. Idempotent, and silent when one is there.
#
# Where it cannot install (no apt-get: macOS, Fedora; no root and no sudo;
# no network), it says how to get one and exits 0, and the browser tests skip
# with the same advice; with CI=true it fails instead.
set -euo pipefail

fail() {
  echo "chromium.sh: $1; the browser tests will be skipped. Install Chromium or Chrome (macOS: brew install --cask chromium; Fedora: sudo dnf install chromium) or set CHATAPP_CHROMIUM=/path/to/chrome" >&2
  [[ "${CI:-}" != true ]] || exit 1
  exit 0
}

if [[ -n ${CHATAPP_CHROMIUM:-} && -x ${CHATAPP_CHROMIUM:-} ]] || [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
for name in chromium chromium-browser google-chrome google-chrome-stable; do
  command -v "$name" >/dev/null && exit 0
done
[[ -x "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" || -x /Applications/Chromium.app/Contents/MacOS/Chromium ]] && exit 0

command -v apt-get >/dev/null || fail "no Chromium found, and no apt-get to install one"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo -n true 2>/dev/null || fail "no Chromium found, and installing one needs root (sudo asks for a password)"
  sudo=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
  fail "apt-get could not install chromium"
echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null)"
