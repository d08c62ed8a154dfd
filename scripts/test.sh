#!/usr/bin/env bash
# Set up and run the whole test suite against real PostgreSQL and Redis (embedded unless
# DATABASE_URL / REDIS_URL are set), including the browser tests in headless Chromium.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow and not browser" -x
source "$(dirname "$0")/_setup.sh"
if ! command -v chromium >/dev/null 2>&1 && [ "${DENTALTAP_SKIP_BROWSER_INSTALL:-0}" != "1" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "[setup] installing Debian's chromium for the browser tests"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/tmp/dentaltap-apt.log 2>&1 \
            || echo "[setup] could not install chromium (see /tmp/dentaltap-apt.log); browser tests will be skipped"
    else
        echo "[setup] chromium is not installed and cannot be installed here; browser tests will be skipped"
    fi
fi
exec .venv/bin/python -m dentaltap.devstack test "$@"
