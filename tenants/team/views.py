"""The practice's Team pages: members and their access, changes, and the audit log."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from dentaltap.errors import ApplicationError
from dentaltap.forms import form_errors_add
from tenants.access import Permission, current_practice, membership_permissions, permission_required, role_permissions
from tenants.models import AccessChange, Membership, PermissionCode, Role
from tenants.team import selectors
from tenants.team import services as team_services
from tenants.team.audit import RequestMeta
from tenants.team.forms import MemberAccessForm
from tenants.team.services import UNSET
from tenants.urls_helpers import public_url


@permission_required(Permission.MANAGE_TEAM)
def team_list(request: HttpRequest) -> HttpResponse:
    practice = current_practice(request)
    rows = selectors.team_members(practice=practice, viewer=getattr(request, "membership", None))
    return render(
        request,
        "tenants/team/list.html",
        {"rows": rows, "extra_sections": selectors.team_extra_sections(request, practice)},
    )


@require_http_methods(["GET", "POST"])
@permission_required(Permission.MANAGE_TEAM)
def member_edit(request: HttpRequest, membership_id: int) -> HttpResponse:
    """A member's access, with only the changes the viewer may make (the team services' own
    rules). A post the viewer may not make (crafted, or the page was stale) is refused by the
    service, and the page says why."""
    practice = current_practice(request)
    target = Membership.objects.select_related("user").filter(pk=membership_id, practice=practice).first()
    if target is None:
        return render(request, "404.html", status=404)
    actions = selectors.member_actions(viewer=getattr(request, "membership", None), target=target)
    effective = selectors.effective_permissions(target)
    initial = {
        "role": target.role,
        "permissions": sorted(effective),
        "expires_on": (target.expires_at - datetime.timedelta(days=1)).date() if target.expires_at else None,
    }
    form = MemberAccessForm(
        request.POST or None,
        initial=initial,
        role_choices=actions.assignable_roles if actions.can_edit else None,
        can_set_expiry=actions.can_set_expiry or not actions.can_edit,
    )
    refused = ""
    if request.method == "POST" and not actions.can_edit:
        # Nothing on this page could be posted by this viewer: the service gives the reason.
        try:
            team_services.membership_change(
                actor=request.user,  # type: ignore[arg-type]
                practice=practice,
                membership_id=target.pk,
                meta=RequestMeta.from_request(request),
            )
        except ApplicationError as error:
            refused = error.message
    elif request.method == "POST" and form.is_valid():
        role = form.cleaned_data["role"]
        # Permissions the viewer may not give are locked on the page: they keep their state.
        locked = set(PermissionCode.values) - set(actions.grantable_permissions)
        chosen = (set(form.cleaned_data["permissions"]) - locked) | (set(effective) & locked)
        template = role_permissions(role)
        # Changing the role without touching the boxes means "the new role's template".
        if role != target.role and chosen == set(effective):
            chosen = set(template)
        if role == Role.OWNER:
            chosen = set(PermissionCode.values)  # an owner holds every permission
        try:
            team_services.membership_change(
                actor=request.user,  # type: ignore[arg-type]
                practice=practice,
                membership_id=target.pk,
                role=role,
                granted_permissions=sorted(chosen - template),
                revoked_permissions=sorted(template - chosen),
                expires_at=form.expires_at() if "expires_on" in form.fields else UNSET,
                meta=RequestMeta.from_request(request),
            )
        except ApplicationError as error:
            form_errors_add(form, error, field_names=_ACCESS_FORM_FIELDS)
        else:
            messages.success(request, _("Access of %(name)s updated.") % {"name": target.user.get_full_name()})
            return redirect("team-list")
    context = {
        "form": form,
        "target": target,
        "actions": actions,
        "grantable": sorted(actions.grantable_permissions),
        "effective": sorted(effective),
        # What they can do now: nothing once their access has ended.
        "effective_labels": [
            label for value, label in PermissionCode.choices if value in membership_permissions(target)
        ],
        "permission_labels": dict(PermissionCode.choices),
        "is_self": target.user_id == request.user.pk,
        "refused": refused,
        "now": timezone.now(),
    }
    return render(request, "tenants/team/edit.html", context, status=400 if form.errors or refused else 200)


# The service's argument names that the access form shows under other fields.
_ACCESS_FORM_FIELDS = {
    "granted_permissions": "permissions",
    "revoked_permissions": "permissions",
    "expires_at": "expires_on",
}


ACTIONS = {
    "suspend": (team_services.membership_suspend, _("Access suspended.")),
    "restore": (team_services.membership_restore, _("Access restored.")),
    "revoke": (team_services.membership_revoke, _("Access revoked.")),
    "transfer-ownership": (team_services.ownership_transfer, _("Ownership transferred.")),
}


@require_POST
@permission_required(Permission.MANAGE_TEAM)
def member_action(request: HttpRequest, membership_id: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        return render(request, "404.html", status=404)
    service, done = ACTIONS[action]
    try:
        service(
            actor=request.user,  # type: ignore[arg-type]
            practice=current_practice(request),
            membership_id=membership_id,
            meta=RequestMeta.from_request(request),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("team-list")
    messages.success(request, done)
    return redirect("team-list")


@require_POST
def practice_leave(request: HttpRequest) -> HttpResponse:
    try:
        team_services.membership_leave(
            user=request.user,  # type: ignore[arg-type]
            practice=current_practice(request),
            meta=RequestMeta.from_request(request),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("dashboard")
    return redirect(public_url("/practices/"))


@permission_required(Permission.MANAGE_TEAM)
def audit_log(request: HttpRequest) -> HttpResponse:
    changes = AccessChange.objects.filter(practice=current_practice(request)).select_related("actor", "member")
    page = Paginator(changes, 50).get_page(request.GET.get("page"))
    entries = [(change, selectors.access_change_summary(change)) for change in page]
    return render(request, "tenants/team/audit.html", {"page": page, "entries": entries})
