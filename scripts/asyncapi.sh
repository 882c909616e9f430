#!/usr/bin/env bash
# Installs the AsyncAPI parser (npm @asyncapi/parser) and ajv, at the
# versions of scripts/asyncapi/package-lock.json, into .cache/asyncapi/,
# outside git, for scripts/asyncapi/check.mjs: the test that parses
# docs/asyncapi.yaml and checks the WebSocket frames the end-to-end tests
# see against it (cmd/chatapp, TestAsyncAPIFrames).
#
# Idempotent: does nothing when the installed lock is the current one.
# Without npm the check skips; with CI=true this script fails instead.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/scripts/asyncapi"
dest="$root/.cache/asyncapi"

if [[ -d "$dest/node_modules/@asyncapi/parser" ]] && cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
	echo "AsyncAPI parser: $dest"
	exit 0
fi
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
	echo "asyncapi.sh: node and npm are needed for the AsyncAPI parser; the AsyncAPI check will be skipped" >&2
	[[ "${CI:-}" != true ]] || exit 1
	exit 0
fi

# Install beside and rename into place: an interrupted run never leaves a
# half-filled folder that looks complete.
mkdir -p "$root/.cache"
rm -rf "$dest.tmp"
mkdir "$dest.tmp"
cp "$src/package.json" "$src/package-lock.json" "$dest.tmp/"
(cd "$dest.tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "AsyncAPI parser: $dest"
