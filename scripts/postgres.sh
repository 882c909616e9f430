#!/usr/bin/env bash
# Installs PostgreSQL's server (Debian's postgresql package) for the
# postgres store's tests, which start a throwaway cluster of their own
# (internal/pglocal: initdb and pg_ctl from /usr/lib/postgresql/*/bin, as
# the postgres user when run as root). Idempotent. The package's own
# cluster service is not needed; the tests never touch it.
#
# Where it cannot install (no apt-get: macOS, Fedora; no root and no sudo;
# no network), it says how to get PostgreSQL and exits 0, and the postgres
# tests skip with the same advice; with CI=true it fails instead.
set -euo pipefail

fail() {
  echo "postgres.sh: $1; the PostgreSQL store's tests will be skipped. Install the PostgreSQL server (Debian, Ubuntu: apt-get install postgresql)" >&2
  [[ "${CI:-}" != true ]] || exit 1
  exit 0
}

installed() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if installed; then
  exit 0
fi
command -v apt-get >/dev/null || fail "the server is missing, and there is no apt-get to install it"
sudo=()
if [[ $(id -u) != 0 ]]; then
  sudo -n true 2>/dev/null || fail "the server is missing, and installing it needs root (sudo asks for a password)"
  sudo=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql >/dev/null ||
  fail "apt-get could not install postgresql"
installed || fail "apt-get installed postgresql, but there is no /usr/lib/postgresql/*/bin/initdb"
echo "PostgreSQL $(ls /usr/lib/postgresql | sort -n | tail -n1) installed"
