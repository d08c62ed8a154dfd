"""The yardstick for the webhook benchmark: a bare Django view doing the same HMAC signature
check (the Stripe SDK's `WebhookSignature.verify_header`) and JSON parse, nothing else: no
middleware, no database, no broker. Served by gunicorn with the same options as the app:

    gunicorn bench.bare_webhook:application --workers=2 --threads=4

The signing secret comes from STRIPE_WEBHOOK_SECRETS (the first one), as for the app.
"""

from __future__ import annotations

import json
import os

import django
import stripe
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only",  # noqa: S106 - a throw-away yardstick server
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_I18N=False,
    USE_TZ=True,
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

SECRET = os.environ.get("STRIPE_WEBHOOK_SECRETS", "whsec_bench").split(",")[0]


@csrf_exempt
def webhook(request: HttpRequest) -> HttpResponse:
    text = request.body.decode("utf-8")
    try:
        stripe.WebhookSignature.verify_header(text, request.headers.get("Stripe-Signature", ""), SECRET, 300)
    except stripe.SignatureVerificationError:
        return JsonResponse({"error": "bad signature"}, status=400)
    event = json.loads(text)
    return JsonResponse({"received": True, "duplicate": False, "id": event["id"]})


urlpatterns = [path("stripe/webhook/", webhook)]
application = get_wsgi_application()
