"""Billing pages and API on practice hosts."""

from django.urls import path

from billing import apis, views

urlpatterns = [
    path("billing/", views.billing_page, name="billing"),
    path("billing/checkout/<slug:plan_code>/", views.checkout, name="billing-checkout"),
    path("billing/portal/", views.portal, name="billing-portal"),
    path("api/billing/", apis.BillingSummaryApi.as_view(), name="api-billing"),
]
