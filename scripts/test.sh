#!/usr/bin/env bash
# Runs portti's whole test suite on a fresh machine: installs what the tests
# need (Chromium for the browser tests and axe-core for their accessibility
# checks, Node.js and openid-client for the
# independent relying party), starts PostgreSQL if it is installed
# but not running, and runs go vet and go test against SQLite and PostgreSQL.
#
#   ./scripts/test.sh            # everything
#   ./scripts/test.sh ./internal/account/...   # some packages
#
# With CI=true a missing browser or database fails the run instead of
# skipping the tests that need it.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "need root for: $*" >&2; return 1; fi; }

apt_updated=""
apt_install() {
	if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# Browser tests drive Debian's Chromium.
if ! command -v chromium >/dev/null 2>&1; then
	echo "== installing chromium"
	apt_install chromium || echo "warning: chromium could not be installed; browser tests will fail in CI" >&2
fi

# The openid-client relying party (test/openid-client, run by
# internal/app/openidclient_test.go) needs Node.js and npm, and its
# dependencies installed from the lockfile before go test.
if ! command -v node >/dev/null 2>&1; then
	echo "== installing nodejs and npm"
	apt_install nodejs npm || echo "warning: Node.js could not be installed; the openid-client test will fail in CI" >&2
elif ! command -v npm >/dev/null 2>&1; then
	echo "== installing npm"
	apt_install npm || echo "warning: npm could not be installed; the openid-client test will fail in CI" >&2
fi
if command -v npm >/dev/null 2>&1; then
	echo "== npm ci (test/openid-client)"
	(cd test/openid-client && npm ci --no-audit --no-fund --loglevel=error) \
		|| echo "warning: npm ci in test/openid-client failed; the openid-client test will fail in CI" >&2
	echo "== npm ci (test/axe)"
	(cd test/axe && npm ci --no-audit --no-fund --loglevel=error) \
		|| echo "warning: npm ci in test/axe failed; the browser tests' axe-core checks will fail in CI" >&2
fi

# PostgreSQL: the storage conformance suite runs against it too.
export PORTTI_TEST_POSTGRES_DSN="${PORTTI_TEST_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
	if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
		echo "== installing postgresql"
		apt_install postgresql postgresql-client || true
	fi
	if ls /etc/postgresql/*/main >/dev/null 2>&1; then
		echo "== starting postgresql"
		as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
		for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
	fi
fi
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
	# Trust auth is how the development machines are set up; make sure the
	# test database exists.
	psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
		|| psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null 2>&1 || true
else
	echo "warning: PostgreSQL is not reachable at 127.0.0.1:5432" >&2
fi

echo "== go vet"
go vet ./...
echo "== go test"
if [ $# -eq 0 ]; then
	# The timing tests (internal/app/timing_test.go) compare the medians of
	# requests for known and unknown addresses; they run on their own
	# after the rest, so that other packages' tests on the same cores do
	# not decide the comparison.
	go test -count=1 -timeout 30m -skip 'Test[A-Za-z]*Timing$' ./...
	echo "== go test (timing, alone)"
	# (pipefail: a failing go test fails the script; grep keeps the ratios)
	go test -count=1 -timeout 10m -run 'Test[A-Za-z]*Timing$' -v ./internal/app | grep -E '^(--- |ok|FAIL|PASS)|timing_test'
	exit 0
fi
go test -count=1 -timeout 30m "$@"
