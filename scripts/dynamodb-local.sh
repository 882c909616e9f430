#!/usr/bin/env bash
# Fetches DynamoDB Local (Amazon's own emulator, a Java program) into
# .cache/dynamodb-local/, outside git, for the dynamodb store's tests.
#
# The jar comes from the npm package amplify-dynamodb-simulator, which bundles
# a pinned DynamoDB Local: npm is a registry this machine can reach, pinning a
# version keeps test runs reproducible, and no AWS download page is scraped.
# Idempotent: does nothing when the jar is already there. Needs npm; the tests
# need java (17 or later) to run it.
set -euo pipefail

version=2.9.30
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/dynamodb-local"

if [[ -f "$dest/DynamoDBLocal.jar" ]]; then
	echo "DynamoDB Local: $dest"
	exit 0
fi

# Without npm the dynamodb tests skip, so a machine with only Go can still
# run make test; CI must not skip them.
if ! command -v npm >/dev/null; then
	echo "dynamodb-local.sh: npm is needed to fetch DynamoDB Local; the dynamodb tests will be skipped" >&2
	[[ "${CI:-}" != true ]] || exit 1
	exit 0
fi
command -v java >/dev/null ||
	echo "dynamodb-local.sh: java (17 or later) is needed to run DynamoDB Local; the dynamodb tests will be skipped" >&2

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "amplify-dynamodb-simulator@$version" >/dev/null)
tar -xzf "$tmp"/amplify-dynamodb-simulator-*.tgz -C "$tmp"
[[ -f "$tmp/package/emulator/DynamoDBLocal.jar" ]] || {
	echo "dynamodb-local.sh: DynamoDBLocal.jar not found in amplify-dynamodb-simulator@$version" >&2
	exit 1
}

# Copy into a sibling folder and rename it into place, so that an interrupted
# run never leaves a half-filled cache that looks complete.
mkdir -p "$root/.cache"
rm -rf "$dest.tmp"
cp -R "$tmp/package/emulator" "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "DynamoDB Local: $dest"
