"""Billing endpoints on the base domain: Stripe's webhook."""

from django.urls import path

from billing import apis

urlpatterns = [
    path("stripe/webhook/", apis.StripeWebhookApi.as_view(), name="stripe-webhook"),
]
