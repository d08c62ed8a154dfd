#!/usr/bin/env bash
# Set up and run DentalTap: embedded PostgreSQL + Redis (unless DATABASE_URL / REDIS_URL are
# set), migrations, demo data on first run, the web server, a Celery worker and beat.
# Ctrl-C stops everything this started. Running it again reuses the data in .data/.
source "$(dirname "$0")/_setup.sh"
exec .venv/bin/python -m dentaltap.devstack run
