#!/usr/bin/env bash
# Set up and run the whole test suite against real PostgreSQL and Redis (embedded unless
# DATABASE_URL / REDIS_URL are set), including the browser tests in headless Chromium.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow and not browser" -x
#
# The browser tests need Chromium (Debian's, or DENTALTAP_CHROMIUM naming another binary). When it
# is missing it is installed (as root, via apt); when that is impossible the command fails, as
# CI must. DENTALTAP_SKIP_BROWSER_TESTS=1 runs without them, saying so; they are never skipped
# silently.
source "$(dirname "$0")/_setup.sh"
CHROMIUM="${DENTALTAP_CHROMIUM:-/usr/bin/chromium}"
export DENTALTAP_CHROMIUM="$CHROMIUM"
if [ "${DENTALTAP_SKIP_BROWSER_TESTS:-0}" = "1" ]; then
    echo "[setup] DENTALTAP_SKIP_BROWSER_TESTS=1: the browser tests are left out of this run"
elif [ ! -x "$CHROMIUM" ]; then
    apt_log="${TMPDIR:-/tmp}/dentaltap-apt.log"
    if [ "${DENTALTAP_SKIP_BROWSER_INSTALL:-0}" = "1" ]; then
        reason="DENTALTAP_SKIP_BROWSER_INSTALL=1 forbids installing it"
    elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "[setup] installing Debian's chromium for the browser tests"
        if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >"$apt_log" 2>&1; then
            reason="apt installed chromium, but $CHROMIUM is still missing"
        else
            reason="apt-get could not install chromium (see $apt_log)"
        fi
    else
        reason="installing it needs root and apt-get"
    fi
    if [ ! -x "$CHROMIUM" ]; then
        echo "[setup] error: the browser tests need Chromium at $CHROMIUM, and $reason." >&2
        echo "[setup] Install Debian's chromium, set DENTALTAP_CHROMIUM to a Chromium binary, or set" >&2
        echo "[setup] DENTALTAP_SKIP_BROWSER_TESTS=1 to run the suite without the browser tests." >&2
        exit 1
    fi
fi
# The translation test (tests/project/test_translations.py) re-extracts every marked string with GNU
# gettext's xgettext: install Debian's gettext when it is missing, as for Chromium; otherwise stop.
if ! command -v xgettext >/dev/null 2>&1 || ! command -v msgmerge >/dev/null 2>&1; then
    apt_log="${TMPDIR:-/tmp}/dentaltap-apt-gettext.log"
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "[setup] installing Debian's gettext for the translation test"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext) >"$apt_log" 2>&1 \
            || echo "[setup] apt-get could not install gettext (see $apt_log)" >&2
    fi
    if ! command -v xgettext >/dev/null 2>&1 || ! command -v msgmerge >/dev/null 2>&1; then
        echo "[setup] error: the translation test needs GNU gettext (xgettext, msgmerge), and installing it" >&2
        echo "[setup] needs root and apt-get. Install Debian's gettext (or your system's gettext) and run again." >&2
        exit 1
    fi
fi
# The connection pooling tests (tests/project/test_pgbouncer_*.py) run through Debian's pgbouncer
# (DENTALTAP_PGBOUNCER names another binary): installed when missing, as for Chromium; when that is
# impossible the command fails, unless DENTALTAP_SKIP_PGBOUNCER_TESTS=1 leaves those tests out, saying so.
PGBOUNCER="${DENTALTAP_PGBOUNCER:-$(command -v pgbouncer || echo /usr/sbin/pgbouncer)}"
export DENTALTAP_PGBOUNCER="$PGBOUNCER"
if [ "${DENTALTAP_SKIP_PGBOUNCER_TESTS:-0}" = "1" ]; then
    echo "[setup] DENTALTAP_SKIP_PGBOUNCER_TESTS=1: the tests through PgBouncer are left out of this run"
elif [ ! -x "$PGBOUNCER" ]; then
    apt_log="${TMPDIR:-/tmp}/dentaltap-apt-pgbouncer.log"
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "[setup] installing Debian's pgbouncer for the connection pooling tests"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer) >"$apt_log" 2>&1 \
            || echo "[setup] apt-get could not install pgbouncer (see $apt_log)" >&2
        # The package enables a system service; the tests start their own.
        (systemctl disable --now pgbouncer || service pgbouncer stop) >/dev/null 2>&1 || true
    fi
    if [ ! -x "$PGBOUNCER" ]; then
        echo "[setup] error: the connection pooling tests need PgBouncer at $PGBOUNCER, and installing it needs" >&2
        echo "[setup] root and apt-get. Install Debian's pgbouncer, set DENTALTAP_PGBOUNCER to a pgbouncer binary, or" >&2
        echo "[setup] set DENTALTAP_SKIP_PGBOUNCER_TESTS=1 to run the suite without them." >&2
        exit 1
    fi
fi
exec .venv/bin/python -m dentaltap.devstack test "$@"
