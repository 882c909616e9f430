#!/usr/bin/env bash
# Installs the AWS Lambda Runtime Interface Emulator into .cache/bin (outside
# git), built from source through the Go module proxy at a pinned version.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v0.0.0-20261030222936-bef5c4ba774d
bin="$PWD/.cache/bin"
stamp="$bin/aws-lambda-rie.version"
if [[ -x $bin/aws-lambda-rie && -f $stamp && $(cat "$stamp") == "$version" ]]; then
  exit 0
fi
mkdir -p "$bin"
GOBIN="$bin" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$version"
echo "$version" >"$stamp"
echo "aws-lambda-rie $version installed in $bin"
