"""Practice host: inviting colleagues and managing the invitations."""

from django.urls import path

from invitations import apis, views

urlpatterns = [
    path("invitations/", views.invitation_list, name="invitation-list"),
    path("invitations/<int:invitation_id>/resend/", views.invitation_resend, name="invitation-resend"),
    path("invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path("api/invitations/", apis.InvitationListCreateApi.as_view(), name="api-invitations"),
    path(
        "api/invitations/<int:invitation_id>/resend/", apis.InvitationResendApi.as_view(), name="api-invitation-resend"
    ),
    path(
        "api/invitations/<int:invitation_id>/revoke/", apis.InvitationRevokeApi.as_view(), name="api-invitation-revoke"
    ),
]
