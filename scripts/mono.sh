#!/usr/bin/env bash
# Installs Mono's C# compiler and runtime (Debian packages) for the Unity
# client's test (cmd/chatapp/unity_test.go), which compiles unity/Runtime and
# its console harness with mcs and runs them with mono. Idempotent.
set -euo pipefail

# mono-mcs brings mcs, mono, mscorlib, System (ClientWebSocket) and
# System.Core; the HttpClient transport needs System.Net.Http. The client's
# JSON is its own, so no serialization assembly is needed.
packages=(mono-mcs libmono-system-net-http4.0-cil)

installed() {
  command -v mcs >/dev/null && command -v mono >/dev/null || return 1
  local p
  for p in "${packages[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || return 1
  done
}

if installed; then
  exit 0
fi
sudo=()
if [[ $(id -u) != 0 ]]; then
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}"
echo "mono $(mono --version | head -n1 | awk '{print $5}') installed"
