"""Who may do what to whom on the Team: the rules, once.

The team services (tenants/team/services.py) enforce them when a change is asked for; the Team
pages ask `member_actions` which of those changes to offer. Both read the same functions here,
so a page never offers a button the service will refuse (and a crafted post is still refused).

Pure functions over memberships: no queries, no writes. The caller passes what needs a query
(how many other active owners the practice has)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from tenants.access import Permission, membership_permissions, permissions_for, role_permissions
from tenants.models import Membership, MembershipStatus, Role


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


def manage_refusal(actor: Membership | None) -> Refusal | None:
    """The actor needs "manage the team" now."""
    if actor is None or Permission.MANAGE_TEAM not in membership_permissions(actor):
        return Refusal("not_allowed", _("Your role in this practice does not allow managing the team."))
    return None


def act_on_refusal(actor: Membership, target: Membership) -> Refusal | None:
    """Nobody changes their own access; only owners touch owners; nobody touches someone who may
    do more than they may."""
    if actor.pk == target.pk:
        return Refusal("own_access", _("You cannot change your own access. Ask another owner."))
    if actor.role == Role.OWNER:
        return None
    if target.role == Role.OWNER:
        return Refusal("not_allowed", _("Only an owner can change another owner's access."))
    if permissions_for(target.role, target.granted_permissions, target.revoked_permissions) - membership_permissions(
        actor
    ):
        return Refusal(
            "not_allowed", _("You cannot change the access of someone who may do more than you. Ask an owner.")
        )
    return None


def revoked_refusal(target: Membership) -> Refusal | None:
    if target.status == MembershipStatus.REVOKED:
        return Refusal("revoked", _("This access was revoked. Invite the person again instead."))
    return None


def suspend_refusal(target: Membership) -> Refusal | None:
    """Only an active access can be suspended (a second suspension would only add a false entry
    to the access log)."""
    if target.status != MembershipStatus.ACTIVE:
        return Refusal("not_active", _("Only an active access can be suspended."))
    return None


def leaves_no_owner(target: Membership, other_active_owners: int) -> bool:
    """Taking this member's ownership or access away would leave the practice without an owner."""
    return target.role == Role.OWNER and target.status == MembershipStatus.ACTIVE and other_active_owners == 0


def last_owner_refusal() -> Refusal:
    return Refusal("last_owner", _("A practice must keep at least one owner. Make someone else owner first."))


def role_refusal(actor: Membership, role: str) -> Refusal | None:
    """Whether the actor may give this role at all (before single permissions are counted)."""
    if role == Role.OWNER and actor.role != Role.OWNER:
        return Refusal("not_allowed", _("Only an owner can make someone an owner."))
    return None


def transfer_refusal(actor: Membership, target: Membership) -> Refusal | None:
    if actor.role != Role.OWNER:
        return Refusal("not_allowed", _("Only an owner can transfer ownership."))
    if target.pk == actor.pk:
        return Refusal("own_access", _("You already own this practice."))
    if target.status != MembershipStatus.ACTIVE:
        return Refusal("not_active", _("Ownership can only go to an active member."))
    if target.role == Role.OWNER:
        # "Transferring" to a co-owner would only demote the actor to practice admin.
        return Refusal("already_owner", _("This member is already an owner."))
    return None


@dataclass(frozen=True)
class MemberActions:
    """What a viewer may do to one member, for the pages to offer exactly that."""

    can_edit: bool = False
    assignable_roles: tuple[str, ...] = ()
    grantable_permissions: frozenset[str] = field(default_factory=frozenset)
    can_set_expiry: bool = False
    can_suspend: bool = False
    can_restore: bool = False
    can_revoke: bool = False
    can_transfer_ownership: bool = False
    refusal: str = ""  # why the viewer may change nothing (empty when they may change something)

    @property
    def any(self) -> bool:
        return self.can_edit or self.can_suspend or self.can_restore or self.can_revoke


def member_actions(*, viewer: Membership | None, target: Membership, other_active_owners: int) -> MemberActions:
    """The changes the team services would accept from `viewer` on `target` now (plan limits
    aside: a seat may be taken or freed meanwhile, and the service says so)."""
    refusal = manage_refusal(viewer)
    if refusal is None:
        assert viewer is not None  # noqa: S101 - implied by manage_refusal
        refusal = act_on_refusal(viewer, target) or revoked_refusal(target)
    if refusal is not None:
        return MemberActions(refusal=refusal.message)
    assert viewer is not None  # noqa: S101
    own = membership_permissions(viewer)
    last_owner = leaves_no_owner(target, other_active_owners)
    if last_owner:
        roles: tuple[str, ...] = (Role.OWNER,)
    else:
        roles = tuple(
            role
            for role in Role.values
            if role == target.role or (role_refusal(viewer, role) is None and role_permissions(role) <= own)
        )
    is_owner = target.role == Role.OWNER
    return MemberActions(
        can_edit=True,
        assignable_roles=roles,
        # An owner keeps every permission: none can be withheld, so none is offered.
        grantable_permissions=frozenset() if is_owner else own,
        can_set_expiry=not is_owner,
        can_suspend=suspend_refusal(target) is None and not last_owner,
        can_restore=target.status == MembershipStatus.SUSPENDED,
        can_revoke=not last_owner,
        can_transfer_ownership=transfer_refusal(viewer, target) is None,
    )
