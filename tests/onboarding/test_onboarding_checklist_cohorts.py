"""The overview checklist, the backfill command and the staff cohort page (issue 12)."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.models import Payment
from invitations.models import Invitation
from onboarding.models import ActivationRule, ChecklistPreference, MilestoneKey, PracticeMilestone
from onboarding.services import milestone_write
from practice.models import AppointmentStatus, Patient
from referrals.models import Eligibility, Referral, ReferralSource
from tenants.models import JoinedVia, Membership, Practice, Role, User
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]


def _reached(practice: Practice, *keys: str, at: datetime.datetime | None = None) -> None:
    for key in keys:
        milestone_write(practice_id=practice.pk, key=key, at=at or timezone.now(), notify=False)


# --------------------------------------------------------------------------- checklist


def test_checklist_completes_itself_in_order_and_links_each_step(
    practice_a: Pair, client_for: Callable[..., Client]
) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)
    checklist = client.get("/").context["checklist"]
    assert [step.key for step in checklist.steps] == [
        MilestoneKey.FIRST_PATIENT,
        MilestoneKey.FIRST_APPOINTMENT_BOOKED,
        MilestoneKey.FIRST_APPOINTMENT_COMPLETED,
        MilestoneKey.FIRST_COLLEAGUE_INVITED,
    ]
    assert [step.path for step in checklist.steps] == [
        "/patients/new/",
        "/appointments/new/",
        "/appointments/",
        "/invitations/",
    ]
    assert (checklist.done_count, checklist.next_step.key) == (0, MilestoneKey.FIRST_PATIENT)
    _reached(alpha, MilestoneKey.FIRST_PATIENT, MilestoneKey.FIRST_APPOINTMENT_BOOKED)
    page = client.get("/")
    assert (page.context["checklist"].done_count, page.context["checklist"].next_step.key) == (
        2,
        MilestoneKey.FIRST_APPOINTMENT_COMPLETED,
    )
    assert b"2 of 4 steps done" in page.content
    assert b'href="/appointments/" aria-current="step"' in page.content
    _reached(alpha, MilestoneKey.ACTIVATED)
    gone = client.get("/")
    assert gone.context["checklist"] is None
    assert b"onboarding-checklist" not in gone.content


def test_checklist_is_for_members_who_can_act_and_only_the_owner_hides_it(
    practice_a: Pair, client_for: Callable[..., Client]
) -> None:
    owner, alpha = practice_a
    guest = UserFactory(email="guest@example.com")
    Membership.objects.create(user=guest, practice=alpha, role=Role.GUEST, joined_via=JoinedVia.INVITATION)
    receptionist = UserFactory(email="desk@example.com")
    Membership.objects.create(
        user=receptionist, practice=alpha, role=Role.RECEPTIONIST, joined_via=JoinedVia.INVITATION
    )

    assert client_for(guest, alpha).get("/").context["checklist"] is None  # nothing they can do
    desk = client_for(receptionist, alpha)
    steps = {step.key: step.can_act for step in desk.get("/").context["checklist"].steps}
    assert steps == {
        MilestoneKey.FIRST_PATIENT: False,
        MilestoneKey.FIRST_APPOINTMENT_BOOKED: True,
        MilestoneKey.FIRST_APPOINTMENT_COMPLETED: True,
        MilestoneKey.FIRST_COLLEAGUE_INVITED: False,
    }
    assert b"onboarding-checklist-hide" not in desk.get("/").content
    refused = desk.post("/onboarding/checklist/hide/")
    assert refused.status_code == 302
    assert not ChecklistPreference.objects.exists()
    assert client_for(guest, alpha).post("/onboarding/checklist/hide/").status_code == 302
    assert not ChecklistPreference.objects.exists()

    owner_client = client_for(owner, alpha)
    assert owner_client.get("/onboarding/checklist/hide/").status_code == 405
    assert owner_client.post("/onboarding/checklist/hide/").status_code == 302
    assert owner_client.get("/").context["checklist"] is None
    assert desk.get("/").context["checklist"] is None  # hidden for the whole practice


@pytest.mark.practice_rows_only
def test_another_practices_owner_cannot_hide_this_checklist(
    make_practice: Callable[..., Pair], client_for: Callable[..., Client]
) -> None:
    _owner, alpha = make_practice("alpha")
    intruder, _bravo = make_practice("bravo")
    response = client_for(intruder, alpha).post("/onboarding/checklist/hide/")
    assert response.status_code in (302, 403)
    assert not ChecklistPreference.objects.filter(practice=alpha).exists()


# --------------------------------------------------------------------------- backfill


def test_backfill_derives_milestones_from_data_and_is_safe_to_rerun(
    make_practice: Callable[..., Pair],
) -> None:
    owner, alpha = make_practice("alpha")
    _quiet_owner, bravo = make_practice("bravo")
    signup = alpha.created_at
    with tenant_context(alpha):
        patients = [PatientFactory() for _ in range(3)]
        Patient.objects.filter(pk=patients[0].pk).update(created_at=signup + datetime.timedelta(hours=2))
        Patient.objects.filter(pk__in=[p.pk for p in patients[1:]]).update(
            created_at=signup + datetime.timedelta(days=2)
        )
        visit = AppointmentFactory(patient=patients[0], status=AppointmentStatus.COMPLETED)
        from practice.models import Appointment

        Appointment.objects.filter(pk=visit.pk).update(
            created_at=signup + datetime.timedelta(days=1), updated_at=signup + datetime.timedelta(days=3)
        )
    Invitation.objects.create(
        practice=alpha, invited_by=owner, email="c@example.com", role=Role.DENTIST, token_hash="x" * 64,
        expires_at=signup + datetime.timedelta(days=14), send_requested_at=signup,
        sent_at=signup + datetime.timedelta(days=4),
    )  # fmt: skip
    Invitation.objects.filter(email="c@example.com").update(created_at=signup + datetime.timedelta(days=4))
    Payment.objects.create(
        stripe_invoice_id="in_1", practice=alpha, stripe_customer_id="cus_1", amount_cents=4900, currency="usd",
        paid_at=signup + datetime.timedelta(days=9),
    )  # fmt: skip
    PracticeMilestone.objects.all().delete()
    # A milestone recorded live before the backfill keeps its own time.
    live = signup + datetime.timedelta(minutes=5)
    _reached(alpha, MilestoneKey.FIRST_PATIENT, at=live)

    out, err = io.StringIO(), io.StringIO()
    call_command("onboarding_backfill", stdout=out, stderr=err)
    reached = dict(PracticeMilestone.objects.filter(practice=alpha).values_list("key", "reached_at"))
    assert reached == {
        MilestoneKey.PRACTICE_CREATED: signup,
        MilestoneKey.FIRST_PATIENT: live,
        MilestoneKey.FIRST_APPOINTMENT_BOOKED: signup + datetime.timedelta(days=1),
        MilestoneKey.FIRST_APPOINTMENT_COMPLETED: signup + datetime.timedelta(days=3),
        MilestoneKey.FIRST_COLLEAGUE_INVITED: signup + datetime.timedelta(days=4),
        MilestoneKey.FIRST_REFERRAL_SENT: signup + datetime.timedelta(days=4),
        MilestoneKey.FIRST_PAYMENT: signup + datetime.timedelta(days=9),
        # the third patient (day 2) and the completed visit (day 3), inside 14 days
        MilestoneKey.ACTIVATED: signup + datetime.timedelta(days=3),
    }
    assert set(PracticeMilestone.objects.filter(practice=bravo).values_list("key", flat=True)) == {
        MilestoneKey.PRACTICE_CREATED
    }
    assert "milestones [" in err.getvalue()  # the progress bar
    total = PracticeMilestone.objects.count()
    call_command("onboarding_backfill", "--no-progress", stdout=io.StringIO(), stderr=io.StringIO())
    assert PracticeMilestone.objects.count() == total
    assert dict(PracticeMilestone.objects.filter(practice=alpha).values_list("key", "reached_at")) == reached


def test_backfill_does_not_activate_late_practices(make_practice: Callable[..., Pair]) -> None:
    _owner, alpha = make_practice("alpha")
    ActivationRule.objects.update_or_create(pk=1, defaults={"minimum_patients": 1, "within_days": 14})
    with tenant_context(alpha):
        patient = PatientFactory()
        AppointmentFactory(patient=patient, status=AppointmentStatus.COMPLETED)
        Patient.objects.update(created_at=alpha.created_at + datetime.timedelta(days=20))
    call_command("onboarding_backfill", "--no-progress", stdout=io.StringIO(), stderr=io.StringIO())
    keys = set(PracticeMilestone.objects.filter(practice=alpha).values_list("key", flat=True))
    assert MilestoneKey.FIRST_PATIENT in keys
    assert MilestoneKey.ACTIVATED not in keys


# --------------------------------------------------------------------------- cohort page


def _cohort_data(make_practice: Callable[..., Pair]) -> dict[str, Practice]:
    referrer, _home = make_practice("referrer")
    practices = {}
    base = timezone.now() - datetime.timedelta(days=40)
    for slug, channel, activated_after in (
        ("linked", ReferralSource.LINK, datetime.timedelta(days=2)),
        ("invited", ReferralSource.INVITATION, datetime.timedelta(days=10)),
        ("organic-1", None, None),
        ("organic-2", None, datetime.timedelta(hours=12)),
    ):
        owner, practice = make_practice(slug)
        Practice.objects.filter(pk=practice.pk).update(created_at=base)
        practice.created_at = base
        if channel:
            invitation = None
            if channel == ReferralSource.INVITATION:
                invitation = Invitation.objects.create(
                    practice=_home, invited_by=referrer, email=owner.email, role=Role.DENTIST, token_hash="y" * 64,
                    expires_at=base + datetime.timedelta(days=14), send_requested_at=base,
                )  # fmt: skip
            Referral.objects.create(
                referrer=referrer, referred_user=owner, referred_practice=practice, source=channel,
                eligibility=Eligibility.ELIGIBLE, invitation=invitation,
            )  # fmt: skip
        _reached(practice, MilestoneKey.FIRST_PATIENT, at=base + datetime.timedelta(hours=6))
        if activated_after:
            _reached(practice, MilestoneKey.ACTIVATED, at=base + activated_after)
        practices[slug] = practice
    Practice.objects.filter(slug="referrer").update(created_at=base - datetime.timedelta(days=400))
    return practices


@pytest.mark.practice_rows_only
def test_cohort_page_is_staff_only(
    public_tenant: Practice, practice_a: Pair, client_for: Callable[..., Client]
) -> None:
    owner, _alpha = practice_a
    assert client_for().get("/staff/onboarding/cohorts/").status_code == 302
    assert client_for(owner).get("/staff/onboarding/cohorts/").status_code == 403
    assert client_for(owner).get("/staff/onboarding/cohorts.csv").status_code == 403


@pytest.mark.practice_rows_only
def test_cohort_figures_by_channel_with_time_to_first_value(
    public_tenant: Practice, make_practice: Callable[..., Pair], client_for: Callable[..., Client]
) -> None:
    practices = _cohort_data(make_practice)
    staff = UserFactory(email="staff@example.com", is_staff=True)
    page = client_for(staff).get("/staff/onboarding/cohorts/")
    assert page.status_code == 200
    rows = {(row.channel): row for row in page.context["rows"]}
    assert set(rows) == {"all", "link", "invitation", "organic"}
    everyone = rows["all"]
    assert everyone.practices == 4
    assert everyone.share(MilestoneKey.FIRST_PATIENT, 1) == 1.0
    assert [everyone.share(MilestoneKey.ACTIVATED, day) for day in (1, 7, 30)] == [0.25, 0.5, 0.75]
    # median of 12 h, 2 days, 10 days = 2 days; p75 = 6 days (interpolated)
    assert everyone.first_value_median_hours == pytest.approx(48)
    assert everyone.first_value_p75_hours == pytest.approx(144)
    assert rows["organic"].practices == 2 and rows["organic"].share(MilestoneKey.ACTIVATED, 30) == 0.5
    assert rows["link"].first_value_median_hours == pytest.approx(48)
    assert b'data-channel="invitation"' in page.content

    export = client_for(staff).get("/staff/onboarding/cohorts.csv")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert {line["channel"]: line["practices"] for line in lines} == {
        "all": "4", "link": "1", "invitation": "1", "organic": "2"
    }  # fmt: skip
    assert {line["channel"]: line["activated_day_7"] for line in lines}["all"] == "2"
    assert practices  # the referrer's own practice signed up long before: not in this range


@pytest.mark.practice_rows_only
def test_cohort_page_bad_range_is_a_form_error(public_tenant: Practice, client_for: Callable[..., Client]) -> None:
    staff = UserFactory(email="staff@example.com", is_staff=True)
    bad = client_for(staff).get("/staff/onboarding/cohorts/?start=2026-13-45&cohort=week")
    assert bad.status_code == 400
    assert bad.context["form"].errors["start"]
    assert client_for(staff).get("/staff/onboarding/cohorts.csv?start=2026-05-01&end=2026-01-01").status_code == 400
