"""The one way an account comes to be.

Every signup door calls `account_signup`: the browser and the API, plain, from a referral link
and from an invitation. The doors differ only in how they read their input (a form or a
serializer, the attribution cookie, the client's address) and how they answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from billing.limits import PlanLimitReached, practitioner_limit_check
from dentaltap.errors import ApplicationError
from invitations import services as invitation_services
from invitations.models import Invitation
from referrals import partners
from referrals import selectors as referral_selectors
from referrals import services as referral_services
from referrals.models import (
    AccessRequest,
    PartnerCode,
    PartnerRedemption,
    PartnerRedemptionPlace,
    Referral,
    ReferralSource,
)
from tenants.models import JoinedVia, Membership, Practice, User, normalize_email
from tenants.services import (
    errors_raise,
    practice_create,
    practice_errors,
    slugify_practice_name,
    user_create,
    user_errors,
)
from tenants.team.audit import RequestMeta
from tenants.team.services import membership_create

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignupResult:
    user: User
    practice: Practice  # the newcomer's own
    invitation: Invitation | None = None
    invited_membership: Membership | None = None  # in the inviter's practice
    referral: Referral | None = None
    access_practice: Practice | None = None  # the referrer's practice a referral link opened
    access_request: AccessRequest | None = None
    guest_membership: Membership | None = None
    partner_redemption: PartnerRedemption | None = None


def account_signup(
    *,
    email: str | None,
    password: str,
    full_name: str,
    practice_name: str,
    practice_slug: str = "",
    invitation_token: str | None = None,
    referral_code: str | None = None,
    referral_link_code: str | None = None,
    request_access: bool = True,
    partner_code: str = "",
    signup_ip: str | None = None,
    user_agent: str = "",
) -> SignupResult:
    """A new dentist's account and their own practice, plus what their door brings, all in one
    transaction or none of it:

    - `invitation_token`: the invitation is accepted (a membership in the inviter's practice
      with the invited role) and the inviter is credited with the referral. The account's email
      is the invited one (`email` may be None; a different one is refused). A dead token, or a
      plan without a seat for the invited role, refuses the whole signup.
    - otherwise `referral_code` (the attribution cookie's first touch, else the code the door
      was given) credits its referrer; an unknown code is ignored.
    - `referral_link_code` with `request_access`: the referral link signed up from offers access
      to the referrer's practice (referrals.services.referral_link_access_offer).
    - `partner_code`: a partner's code, redeemed for the new practice (its benefit at checkout);
      it attributes the practice to the partner only when no invitation or referral link did
      (first touch wins). An unknown, expired or used-up code refuses the whole signup.

    Every field is checked before anything is written, so a form shows all its problems at once
    (the rules live in tenants.services.user_errors / practice_errors). The signup IP and user
    agent go on the join entries of the access log, the referral and the newcomer's known
    addresses."""
    try:
        return _account_signup(
            email=email,
            password=password,
            full_name=full_name,
            practice_name=practice_name,
            practice_slug=practice_slug,
            invitation_token=invitation_token,
            referral_code=referral_code,
            referral_link_code=referral_link_code,
            request_access=request_access,
            partner_code=partner_code,
            meta=RequestMeta.from_values(ip_address=signup_ip, user_agent=user_agent),
        )
    except PlanLimitReached:
        if invitation_token is None:
            raise
        # Outside the rolled-back signup: the refusal records the blocked attempt for the inviter.
        raise invitation_services.invitation_seat_limit_refusal(token=invitation_token) from None


@transaction.atomic
def _account_signup(
    *,
    email: str | None,
    password: str,
    full_name: str,
    practice_name: str,
    practice_slug: str,
    invitation_token: str | None,
    referral_code: str | None,
    referral_link_code: str | None,
    request_access: bool,
    partner_code: str,
    meta: RequestMeta,
) -> SignupResult:
    invitation = None
    if invitation_token is not None:
        invitation = invitation_services.invitation_lock_usable(token=invitation_token)
        if email and normalize_email(email) != invitation.email:
            text = _("This invitation was sent to %(invited)s: sign up with that address.") % {
                "invited": invitation.email
            }
            raise ApplicationError(text, code="email_mismatch", fields={"email": [text]})
        email = invitation.email
        # Before building the newcomer's own practice (a schema): a seat the plan lacks fails fast.
        practitioner_limit_check(practice=invitation.practice, role=invitation.role)

    slug = practice_slug.strip() or slugify_practice_name(practice_name)
    # The code is locked here, before anything is built: a racing signup with the same
    # single-use code waits, then finds it used up.
    code, code_errors = _partner_code_lock(partner_code)
    errors_raise(
        {
            **user_errors(email=email or "", password=password, full_name=full_name),
            **practice_errors(name=practice_name, slug=slug),
            **code_errors,
        }
    )
    user = user_create(email=email or "", password=password, full_name=full_name)
    practice = practice_create(name=practice_name, slug=slug, owner=user, meta=meta)
    referral_services.referrer_address_record(user=user, ip_address=meta.ip_address)  # they may refer others later

    if invitation is not None:
        invited_membership = membership_create(
            user=user,
            practice=invitation.practice,
            role=invitation.role,
            joined_via=JoinedVia.INVITATION,
            actor=invitation.invited_by,
            meta=meta,
        )
        referral = None
        if invitation.invited_by is not None:
            referral = referral_services.referral_record(
                referrer=invitation.invited_by,
                referred_user=user,
                referred_practice=practice,
                source=ReferralSource.INVITATION,
                invitation=invitation,
                referral_code=referral_services.referral_code_get_or_create(user=invitation.invited_by),
                signup_ip=meta.ip_address,
            )
        invitation_services.invitation_mark_accepted(invitation=invitation, user=user)
        logger.info("invitation %s accepted by new user %s (own practice %s)", invitation.pk, user.pk, practice.slug)
        redemption = _partner_code_redeem(code, practice=practice, user=user, meta=meta)
        return SignupResult(user, practice, invitation, invited_membership, referral, partner_redemption=redemption)

    attributed = referral_selectors.referral_code_find(referral_code or "")
    referral = None
    if attributed is not None:
        referral = referral_services.referral_record(
            referrer=attributed.user,
            referred_user=user,
            referred_practice=practice,
            source=ReferralSource.LINK,
            referral_code=attributed,
            signup_ip=meta.ip_address,
        )
    redemption = _partner_code_redeem(code, practice=practice, user=user, meta=meta)
    offer = referral_services.AccessOffer()
    if referral_link_code and request_access:
        offer = referral_services.referral_link_access_offer(
            user=user, referral_link_code=referral_link_code, referral=referral, meta=meta
        )
    return SignupResult(
        user,
        practice,
        referral=referral,
        access_practice=offer.access_practice,
        access_request=offer.access_request,
        guest_membership=offer.guest_membership,
        partner_redemption=redemption,
    )


def _partner_code_lock(raw: str) -> tuple[PartnerCode | None, dict[str, list[str]]]:
    if not (raw or "").strip():
        return None, {}
    try:
        return partners.partner_code_lock_usable(raw=raw), {}
    except ApplicationError as error:
        return None, {key: [str(message) for message in messages] for key, messages in (error.fields or {}).items()}


def _partner_code_redeem(
    code: PartnerCode | None, *, practice: Practice, user: User, meta: RequestMeta
) -> PartnerRedemption | None:
    if code is None:
        return None
    return partners.partner_code_redeem(
        code=code, practice=practice, user=user, place=PartnerRedemptionPlace.SIGNUP, signup_ip=meta.ip_address
    )
