#!/usr/bin/env bash
# Installs the NATS server for the cluster tests (internal/natslocal, which
# starts one on a free port of 127.0.0.1 per test binary) into .cache/bin
# (outside git), built from source through the Go module proxy at a pinned
# version. Idempotent. Where the build cannot run (no network) and Debian's
# nats-server is on PATH, the tests use that one instead.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v2.15.3
bin="$PWD/.cache/bin"
stamp="$bin/nats-server.version"
if [[ -x $bin/nats-server && -f $stamp && $(cat "$stamp") == "$version" ]]; then
  exit 0
fi
mkdir -p "$bin"
if ! GOBIN="$bin" go install "github.com/nats-io/nats-server/v2@$version"; then
  if command -v nats-server >/dev/null; then
    echo "nats.sh: could not build nats-server $version; the tests use $(command -v nats-server)" >&2
    exit 0
  fi
  echo "nats.sh: could not build nats-server $version; the cluster tests will be skipped. Install it (go install github.com/nats-io/nats-server/v2@$version, or Debian's nats-server)" >&2
  [[ "${CI:-}" != true ]] || exit 1
  exit 0
fi
echo "$version" >"$stamp"
echo "nats-server $version installed in $bin"
