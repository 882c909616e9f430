#!/usr/bin/env bash
# Fetches the specifications template.yaml is checked against
# (internal/cfnspec) into .cache/cfn-spec/, outside git:
#
#   db.json.gz       every CloudFormation resource type, its properties,
#                    their types and its attributes: the database of the npm
#                    package @aws-cdk/aws-service-spec (built by AWS from the
#                    CloudFormation registry schemas), at a pinned version.
#   sam.schema.json  SAM's own JSON schema of its AWS::Serverless::* types,
#                    written by the installed aws-sam-translator (the code of
#                    the AWS::Serverless-2016-10-31 transform) from its
#                    models. The npm package also lists SAM types, but from
#                    SAM's old resource specification, which lacks properties
#                    SAM has taken for years (a function's LoggingConfig).
#
# Idempotent. Without npm, or without python3 and aws-sam-translator, the
# template's spec test skips; with CI=true this script fails instead.
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

# SAM's schema, rewritten whenever the installed translator's version changes.
sam_version="$(python3 -c 'import samtranslator; print(samtranslator.__version__)' 2>/dev/null)" ||
	fail "python3 with aws-sam-translator is needed to write SAM's schema"
if [[ ! -f "$dest/sam.schema.json" || $(cat "$dest/sam.version" 2>/dev/null) != "$sam_version" ]]; then
	python3 - "$dest/sam.schema.json.tmp" <<'EOF'
import sys
from pathlib import Path
from samtranslator.internal.schema_source.schema import SamModel, get_schema, json_dumps
Path(sys.argv[1]).write_text(json_dumps(get_schema(SamModel)))
EOF
	mv "$dest/sam.schema.json.tmp" "$dest/sam.schema.json"
	echo "$sam_version" >"$dest/sam.version"
fi
echo "SAM schema: $dest/sam.schema.json (aws-sam-translator $sam_version)"
