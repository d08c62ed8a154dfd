"""Team pages and API, on practice hosts."""

from django.urls import path

from tenants.team import apis as team_apis
from tenants.team import views as team_views

urlpatterns = [
    path("team/", team_views.team_list, name="team-list"),
    path("team/audit/", team_views.audit_log, name="team-audit"),
    path("team/leave/", team_views.practice_leave, name="practice-leave"),
    path("team/<int:membership_id>/", team_views.member_edit, name="team-member"),
    path("team/<int:membership_id>/<slug:action>/", team_views.member_action, name="team-member-action"),
    path("api/team/members/", team_apis.MemberListApi.as_view(), name="api-team-members"),
    path("api/team/members/<int:membership_id>/", team_apis.MemberDetailApi.as_view(), name="api-team-member"),
    path("api/team/members/<int:membership_id>/suspend/", team_apis.MemberSuspendApi.as_view()),
    path("api/team/members/<int:membership_id>/restore/", team_apis.MemberRestoreApi.as_view()),
    path("api/team/members/<int:membership_id>/revoke/", team_apis.MemberRevokeApi.as_view()),
    path("api/team/members/<int:membership_id>/transfer-ownership/", team_apis.OwnershipTransferApi.as_view()),
    path("api/team/leave/", team_apis.PracticeLeaveApi.as_view(), name="api-practice-leave"),
    path("api/team/audit/", team_apis.AuditLogApi.as_view(), name="api-team-audit"),
]
