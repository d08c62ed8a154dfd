#!/usr/bin/env bash
# DentalTap container entrypoint.
#
#   1. wait until PostgreSQL (DATABASE_URL) and Redis (REDIS_URL) answer;
#   2. web role only: run the release tasks under a PostgreSQL advisory lock (so several web
#      containers starting at once do not migrate concurrently):
#        - migrate_schemas --shared (the public schema), then migrate_practices (the practice
#          schemas and spare schemas that are behind, DENTALTAP_MIGRATE_WORKERS at once),
#        - demo_seed when DENTALTAP_DEMO=1, otherwise just ensure the public tenant + base domain;
#   3. exec the command (gunicorn by default), so it runs as PID 1's child with signals intact.
#
# The role comes from DENTALTAP_ROLE, or else from the command: gunicorn -> web,
# `celery ... worker` -> worker, `celery ... beat` -> beat, anything else (manage.py, a shell) ->
# other. Worker, beat and other never migrate.
#
# Environment: DENTALTAP_ROLE, DENTALTAP_MIGRATE (default 1; 0 skips the release tasks, e.g. when
# a separate release job runs them), DENTALTAP_DEMO (default 0), DENTALTAP_WAIT_TIMEOUT (seconds,
# default 90).
set -Eeuo pipefail

APP_DIR=/app
cd "$APP_DIR"

log() { printf '[entrypoint] %s\n' "$*" >&2; }

detect_role() {
    if [ -n "${DENTALTAP_ROLE:-}" ]; then
        printf '%s\n' "$DENTALTAP_ROLE"
        return
    fi
    case "${1:-}" in
        gunicorn) echo web ;;
        celery)
            case " $* " in
                *" worker "*) echo worker ;;
                *" beat "*) echo beat ;;
                *) echo other ;;
            esac
            ;;
        *) echo other ;;
    esac
}

release_tasks() {
    log "migrating the public schema"
    python manage.py migrate_schemas --shared --executor=standard --noinput
    # Only the practice schemas (and spare schemas) that are behind, in parallel worker processes;
    # a failing schema is reported and the others go on (the command then exits 1).
    log "migrating the practice schemas that are behind"
    python manage.py migrate_practices --workers "${DENTALTAP_MIGRATE_WORKERS:-4}"
    if [ "${DENTALTAP_DEMO:-0}" = "1" ]; then
        log "DENTALTAP_DEMO=1: seeding demo data (first run only)"
        python manage.py demo_seed
    else
        # The base domain is served by the public tenant: without it every request to the site
        # 404s (SHOW_PUBLIC_IF_NO_TENANT_FOUND is off). Idempotent.
        log "ensuring the public tenant and its domain"
        python manage.py ensure_public_tenant
    fi
}

# Internal: the web role re-enters here while holding the release lock (see below).
if [ "${1:-}" = "__release_tasks" ]; then
    release_tasks
    exit 0
fi

if [ "$#" -eq 0 ]; then
    log "no command given"
    exit 64
fi

role="$(detect_role "$@")"
log "role: $role; command: $*"

python docker/pgtool.py wait --timeout "${DENTALTAP_WAIT_TIMEOUT:-90}"

if [ "$role" = "web" ]; then
    if [ "${DENTALTAP_MIGRATE:-1}" = "1" ]; then
        python docker/pgtool.py locked -- "$0" __release_tasks
    else
        log "DENTALTAP_MIGRATE=${DENTALTAP_MIGRATE}: skipping migrations"
    fi
fi

exec "$@"
