#!/usr/bin/env bash
# Installs what the tests need beyond Go, into .cache/ (outside git).
# Idempotent: safe to run before every test run (make test does).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/dynamodb-local.sh
scripts/rie.sh
scripts/cfn-spec.sh
scripts/asyncapi.sh
scripts/chromium.sh
scripts/mono.sh
scripts/postgres.sh
scripts/nats.sh
