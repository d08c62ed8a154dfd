"""Base domain: the invitation link's API (preview, accept when logged in). The link's page and
signup are doors: accounts/urls.py."""

from django.urls import path

from invitations import apis

urlpatterns = [
    path("api/invitations/<str:token>/", apis.InvitationPreviewApi.as_view(), name="api-invitation-preview"),
    path("api/invitations/<str:token>/accept/", apis.InvitationAcceptApi.as_view(), name="api-invitation-accept"),
]
