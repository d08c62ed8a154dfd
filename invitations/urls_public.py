"""Base domain: the invitation link (token in the path) and its API."""

from django.urls import path

from invitations import apis, views

urlpatterns = [
    path("invitations/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path("api/invitations/<str:token>/", apis.InvitationPreviewApi.as_view(), name="api-invitation-preview"),
    path("api/invitations/<str:token>/accept/", apis.InvitationAcceptApi.as_view(), name="api-invitation-accept"),
    path("api/invitations/<str:token>/signup/", apis.InvitationSignupApi.as_view(), name="api-invitation-signup"),
]
