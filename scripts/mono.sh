#!/usr/bin/env bash
# Installs Mono's C# compiler and runtime (Debian packages) for the Unity
# client's test (cmd/chatapp/unity_test.go), which compiles unity/Runtime and
# its console harness with mcs and runs them with mono. Idempotent.
#
# Where it cannot install (no apt-get: macOS, Fedora; no root and no sudo;
# no network), it says how to get Mono and exits 0, and the Unity tests skip
# with the same advice; with CI=true it fails instead.
set -euo pipefail

# mono-mcs brings mcs, mono, mscorlib, System (ClientWebSocket) and
# System.Core; the HttpClient transport needs System.Net.Http. The client's
# JSON is its own, so no serialization assembly is needed.
packages=(mono-mcs libmono-system-net-http4.0-cil)

fail() {
  echo "mono.sh: $1; the Unity client's tests will be skipped. Install Mono with mcs (macOS: brew install mono; Fedora: sudo dnf install mono-devel)" >&2
  [[ "${CI:-}" != true ]] || exit 1
  exit 0
}

installed() {
  command -v mcs >/dev/null && command -v mono >/dev/null || return 1
  # Elsewhere than Debian, Mono's own packages bring System.Net.Http.
  command -v dpkg-query >/dev/null || return 0
  local p
  for p in "${packages[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || return 1
  done
}

if installed; then
  exit 0
fi
command -v apt-get >/dev/null || fail "mcs or mono is missing, and there is no apt-get to install them"
sudo=()
if [[ $(id -u) != 0 ]]; then
  sudo -n true 2>/dev/null || fail "mcs or mono is missing, and installing them needs root (sudo asks for a password)"
  sudo=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null ||
  fail "apt-get could not install ${packages[*]}"
echo "mono $(mono --version | head -n1 | awk '{print $5}') installed"
