"""Changes to who may do what in a practice: roles, single permissions, temporary access,
suspension, revocation, ownership, leaving. Every change is audited (AccessChange).

The rules, enforced here and nowhere else:
- the actor needs the "manage the team" permission in the practice (leaving needs nothing);
- nobody changes their own access (except leaving), and nobody gives anyone a permission they
  do not hold themselves; only owners touch owners or make owners;
- a practice always keeps at least one active owner.

Every service locks the practice row first (SELECT ... FOR UPDATE), so concurrent team changes
in one practice run one after another: none is lost, and two owners cannot demote each other
into a practice with no owner.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status

from dentaltap.errors import ApplicationError
from tenants.access import membership_permissions, permissions_for
from tenants.handoffs import MemberJoined, member_joined, practitioner_limit_check
from tenants.models import (
    AccessAction,
    Membership,
    MembershipStatus,
    PermissionCode,
    Practice,
    Role,
    User,
)
from tenants.team import rules as team_rules
from tenants.team.audit import RequestMeta, access_change_record, membership_snapshot


class NotAllowed(ApplicationError):
    code = "not_allowed"
    status_code = status.HTTP_403_FORBIDDEN


class MemberNotFound(ApplicationError):
    code = "member_not_found"
    status_code = status.HTTP_404_NOT_FOUND


UNSET: Any = object()


@transaction.atomic
def membership_create(
    *,
    user: User,
    practice: Practice,
    role: str,
    joined_via: str,
    granted_permissions: list[str] | None = None,
    actor: User | None = None,
    meta: RequestMeta | None = None,
) -> Membership:
    """Give a user access to a practice (signup, an accepted invitation, an approved request).

        An active membership is returned as it is: joining again never silently changes someone's
        role. A revoked one (removed, or left) is reactivated with the new role: the practice is
        letting the person back in. A suspended one is refused: lifting a suspension is a team
        manager's decision (Restore on the Team page), not an invitation's. Audited when it changes,
    with `meta` (where the request came from: a signup's IP and user agent)."""
    if role not in Role.values:
        text = _("Unknown role: %(role)s.") % {"role": role}
        raise ApplicationError(text, fields={"role": [text]})
    existing = Membership.objects.select_for_update().filter(user=user, practice=practice).first()
    if existing is not None and existing.status == MembershipStatus.ACTIVE:
        return existing
    if existing is not None and existing.status == MembershipStatus.SUSPENDED:
        raise ApplicationError(
            _("This person's access to the practice is suspended. A team manager can restore it on the Team page."),
            code="member_suspended",
            status_code=409,
        )
    practitioner_limit_check(practice=practice, role=role)
    before = membership_snapshot(existing) if existing is not None else None
    if existing is None:
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    user=user, practice=practice, role=role, joined_via=joined_via,
                    granted_permissions=sorted(set(granted_permissions or [])),
                )  # fmt: skip
        except IntegrityError:  # a concurrent join of the same person won: use theirs
            return Membership.objects.get(user=user, practice=practice)
    else:
        membership = existing
        membership.role, membership.status, membership.joined_via = role, MembershipStatus.ACTIVE, joined_via
        membership.granted_permissions, membership.revoked_permissions = sorted(set(granted_permissions or [])), []
        membership.expires_at = None
        membership.save()
    access_change_record(
        practice=practice, actor=actor, membership=membership, action=AccessAction.JOINED, before=before, meta=meta
    )
    member_joined.send(MemberJoined(membership=membership))
    return membership


def _lock(practice: Practice) -> None:
    Practice.objects.select_for_update().filter(pk=practice.pk).values_list("pk", flat=True).get()


def _raise(refusal: team_rules.Refusal | None) -> None:
    if refusal is None:
        return
    if refusal.code in ("not_allowed", "own_access"):
        raise NotAllowed(refusal.message, code=refusal.code)
    raise ApplicationError(refusal.message, code=refusal.code)


def _actor_membership(actor: User, practice: Practice) -> Membership:
    membership = Membership.objects.filter(user=actor, practice=practice).first()
    _raise(team_rules.manage_refusal(membership))
    assert membership is not None  # noqa: S101 - implied by manage_refusal
    return membership


def _target(practice: Practice, membership_id: int) -> Membership:
    target = Membership.objects.select_related("user").filter(pk=membership_id, practice=practice).first()
    if target is None:
        # Also the answer for a member of another practice: never confirm it exists.
        raise MemberNotFound(_("There is no such member in this practice."))
    return target


def _other_active_owners(practice: Practice, excluding: Membership) -> int:
    return (
        Membership.objects.filter(practice=practice, role=Role.OWNER, status=MembershipStatus.ACTIVE)
        .exclude(pk=excluding.pk)
        .count()
    )


def _check_may_act_on(actor_membership: Membership, target: Membership) -> None:
    _raise(team_rules.act_on_refusal(actor_membership, target))


def _check_keeps_an_owner(practice: Practice, target: Membership) -> None:
    if target.role == Role.OWNER and team_rules.leaves_no_owner(target, _other_active_owners(practice, target)):
        _raise(team_rules.last_owner_refusal())


def _check_permissions(names: list[str], field: str) -> list[str]:
    unknown = sorted(set(names) - set(PermissionCode.values))
    if unknown:
        message = _("Unknown permission: %(names)s.") % {"names": ", ".join(unknown)}
        raise ApplicationError(message, fields={field: [message]})
    return sorted(set(names))


# --------------------------------------------------------------------------- services


@transaction.atomic
def membership_change(
    *,
    actor: User,
    practice: Practice,
    membership_id: int,
    role: str | None = None,
    granted_permissions: list[str] | None = None,
    revoked_permissions: list[str] | None = None,
    expires_at: datetime.datetime | None = UNSET,
    meta: RequestMeta | None = None,
) -> Membership:
    """Change a member's role, single permissions on top of the role, or access expiry."""
    _lock(practice)
    actor_membership = _actor_membership(actor, practice)
    target = _target(practice, membership_id)
    _check_may_act_on(actor_membership, target)
    _raise(team_rules.revoked_refusal(target))
    before = membership_snapshot(target)

    new_role = target.role if role is None else role
    if new_role not in Role.values:
        message = _("Unknown role: %(role)s.") % {"role": new_role}
        raise ApplicationError(message, fields={"role": [message]})
    granted = (
        target.granted_permissions
        if granted_permissions is None
        else _check_permissions(granted_permissions, "granted_permissions")
    )
    revoked = (
        target.revoked_permissions
        if revoked_permissions is None
        else _check_permissions(revoked_permissions, "revoked_permissions")
    )
    new_expiry = target.expires_at if expires_at is UNSET else expires_at

    _raise(team_rules.role_refusal(actor_membership, new_role))
    if target.role == Role.OWNER and new_role != Role.OWNER:
        _check_keeps_an_owner(practice, target)
    if new_expiry is not None and new_expiry != target.expires_at and new_expiry <= timezone.now():
        message = _("The access expiry must be in the future.")
        raise ApplicationError(message, fields={"expires_at": [message]})
    if new_expiry is not None and new_role == Role.OWNER:
        message = _("An owner's access cannot expire.")
        raise ApplicationError(message, fields={"expires_at": [message]})
    if new_role == Role.OWNER and revoked:
        # An owner keeps every permission: otherwise a practice could be left with owners who
        # cannot manage the team, and nobody to repair it but staff.
        message = _("An owner always has every permission; none can be withheld.")
        raise ApplicationError(message, fields={"revoked_permissions": [message]})

    if new_role != target.role and target.status == MembershipStatus.ACTIVE:
        practitioner_limit_check(practice=practice, role=new_role, excluding_membership_id=target.pk)
    beyond = permissions_for(new_role, granted, revoked) - membership_permissions(actor_membership)
    if beyond:
        labels = ", ".join(str(PermissionCode(name).label) for name in sorted(beyond))
        raise NotAllowed(_("You cannot give permissions you do not have yourself: %(labels)s.") % {"labels": labels})

    target.role, target.granted_permissions, target.revoked_permissions = new_role, granted, revoked
    target.expires_at = new_expiry
    target.save(update_fields=["role", "granted_permissions", "revoked_permissions", "expires_at", "updated_at"])
    access_change_record(
        practice=practice, actor=actor, membership=target, action=AccessAction.CHANGED, before=before, meta=meta
    )
    return target


def _status_change(
    *,
    actor: User,
    practice: Practice,
    membership_id: int,
    new_status: str,
    action: str,
    meta: RequestMeta | None,
    from_status: str | None = None,
) -> Membership:
    _lock(practice)
    actor_membership = _actor_membership(actor, practice)
    target = _target(practice, membership_id)
    _check_may_act_on(actor_membership, target)
    if from_status is not None and target.status != from_status:
        raise ApplicationError(_("Only a suspended access can be restored."), code="not_suspended")
    _raise(team_rules.revoked_refusal(target))
    if new_status == MembershipStatus.SUSPENDED:
        _raise(team_rules.suspend_refusal(target))
    if new_status != MembershipStatus.ACTIVE:
        _check_keeps_an_owner(practice, target)
    else:
        practitioner_limit_check(practice=practice, role=target.role, excluding_membership_id=target.pk)
    before = membership_snapshot(target)
    target.status = new_status
    target.save(update_fields=["status", "updated_at"])
    access_change_record(practice=practice, actor=actor, membership=target, action=action, before=before, meta=meta)
    return target


@transaction.atomic
def membership_suspend(
    *, actor: User, practice: Practice, membership_id: int, meta: RequestMeta | None = None
) -> Membership:
    return _status_change(
        actor=actor, practice=practice, membership_id=membership_id,
        new_status=MembershipStatus.SUSPENDED, action=AccessAction.SUSPENDED, meta=meta,
    )  # fmt: skip


@transaction.atomic
def membership_restore(
    *, actor: User, practice: Practice, membership_id: int, meta: RequestMeta | None = None
) -> Membership:
    return _status_change(
        actor=actor, practice=practice, membership_id=membership_id, new_status=MembershipStatus.ACTIVE,
        action=AccessAction.RESTORED, meta=meta, from_status=MembershipStatus.SUSPENDED,
    )  # fmt: skip


@transaction.atomic
def membership_revoke(
    *, actor: User, practice: Practice, membership_id: int, meta: RequestMeta | None = None
) -> Membership:
    return _status_change(
        actor=actor, practice=practice, membership_id=membership_id,
        new_status=MembershipStatus.REVOKED, action=AccessAction.REVOKED, meta=meta,
    )  # fmt: skip


@transaction.atomic
def ownership_transfer(
    *, actor: User, practice: Practice, membership_id: int, meta: RequestMeta | None = None
) -> Membership:
    """Make another active member the owner; the former owner stays on as practice admin."""
    _lock(practice)
    actor_membership = _actor_membership(actor, practice)
    if actor_membership.role != Role.OWNER:
        raise NotAllowed(_("Only an owner can transfer ownership."))
    target = _target(practice, membership_id)
    refusal = team_rules.transfer_refusal(actor_membership, target)
    if refusal is not None:
        raise ApplicationError(refusal.message, code=refusal.code)

    # The new owner becomes a practitioner while the old one stays on as admin (not one).
    practitioner_limit_check(practice=practice, role=Role.OWNER, excluding_membership_id=actor_membership.pk)
    before_target, before_actor = membership_snapshot(target), membership_snapshot(actor_membership)
    target.role, target.expires_at, target.revoked_permissions = Role.OWNER, None, []
    target.save(update_fields=["role", "expires_at", "revoked_permissions", "updated_at"])
    actor_membership.role = Role.PRACTICE_ADMIN
    actor_membership.save(update_fields=["role", "updated_at"])
    for membership, before in ((target, before_target), (actor_membership, before_actor)):
        access_change_record(
            practice=practice, actor=actor, membership=membership,
            action=AccessAction.OWNERSHIP_TRANSFERRED, before=before, meta=meta,
        )  # fmt: skip
    return target


@transaction.atomic
def membership_leave(*, user: User, practice: Practice, meta: RequestMeta | None = None) -> Membership:
    """Leave a practice. The last owner cannot: the practice would have nobody in charge."""
    _lock(practice)
    membership = (
        Membership.objects.filter(user=user, practice=practice).exclude(status=MembershipStatus.REVOKED).first()
    )
    if membership is None:
        raise MemberNotFound(_("You are not a member of this practice."))
    if membership.role == Role.OWNER and not _other_active_owners(practice, membership):
        raise ApplicationError(
            _("You are this practice's only owner. Transfer ownership before leaving."), code="last_owner"
        )
    before = membership_snapshot(membership)
    membership.status = MembershipStatus.REVOKED
    membership.save(update_fields=["status", "updated_at"])
    access_change_record(
        practice=practice, actor=user, membership=membership, action=AccessAction.LEFT, before=before, meta=meta
    )
    return membership
