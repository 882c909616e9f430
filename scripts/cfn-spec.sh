#!/usr/bin/env bash
# Fetches the specifications template.yaml is checked against
# (internal/cfnspec) into .cache/cfn-spec/, outside git:
#
#   db.json.gz       every CloudFormation resource type, its properties,
#                    their types and its attributes: the database of the npm
#                    package @aws-cdk/aws-service-spec (built by AWS from the
#                    CloudFormation registry schemas), at a pinned version.
#
# SAM's schema is not fetched: see --sam below. (The npm package also lists
# SAM types, but from SAM's old resource specification, which lacks
# properties SAM has taken for years, such as a function's LoggingConfig.)
#
# Idempotent. Without npm the template's spec test skips; with CI=true this
# script fails instead.
set -euo pipefail

version=0.1.216
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/cfn-spec"
stamp="$dest/aws-service-spec.version"

fail() {
	echo "cfn-spec.sh: $1; the template's spec test will be skipped" >&2
	[[ "${CI:-}" != true ]] || exit 1
	exit 0
}

mkdir -p "$dest"
if [[ ! -f "$dest/db.json.gz" || ! -f $stamp || $(cat "$stamp") != "$version" ]]; then
	command -v npm >/dev/null || fail "npm is needed to fetch @aws-cdk/aws-service-spec"
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "@aws-cdk/aws-service-spec@$version" >/dev/null)
	tar -xzf "$tmp"/aws-cdk-aws-service-spec-*.tgz -C "$tmp"
	[[ -f "$tmp/package/db.json.gz" ]] || {
		echo "cfn-spec.sh: db.json.gz not found in @aws-cdk/aws-service-spec@$version" >&2
		exit 1
	}
	# Rename into place: an interrupted run never leaves a partial file.
	cp "$tmp/package/db.json.gz" "$dest/db.json.gz.tmp"
	mv "$dest/db.json.gz.tmp" "$dest/db.json.gz"
	echo "$version" >"$stamp"
fi
echo "CloudFormation resource specification: $dest/db.json.gz (@aws-cdk/aws-service-spec@$version)"

# SAM's schema is kept in git (internal/cfnspec/sam.schema.json.gz): no
# registry reachable from here carries a current one. `--sam` writes it anew
# from the installed aws-sam-translator (pip install aws-sam-translator).
if [[ "${1:-}" == --sam ]]; then
	out="$root/internal/cfnspec/sam.schema.json.gz"
	python3 - <<'EOF' | gzip -9 -n >"$out.tmp"
import sys
from samtranslator.internal.schema_source.schema import SamModel, get_schema, json_dumps
sys.stdout.write(json_dumps(get_schema(SamModel)))
EOF
	mv "$out.tmp" "$out"
	echo "SAM schema: $out (aws-sam-translator $(python3 -c 'import samtranslator; print(samtranslator.__version__)'))"
fi
