"""Milestones (issue 12): recorded once, after commit, for the practice that did the thing."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterator

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from onboarding import hooks
from onboarding.models import ActivationRule, MilestoneKey, PracticeMilestone
from onboarding.services import activation_evaluate, milestone_cache_clear, milestone_record, milestone_write
from practice import services as practice_services
from practice.models import AppointmentStatus, Patient
from tenants.models import JoinedVia, Membership, Practice, Role, User
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]


def _keys(practice: Practice) -> set[str]:
    return set(PracticeMilestone.objects.filter(practice=practice).values_list("key", flat=True))


def _soon(days: int = 1) -> tuple[datetime.datetime, datetime.datetime]:
    starts = timezone.now() + datetime.timedelta(days=days)
    return starts, starts + datetime.timedelta(minutes=30)


@pytest.fixture
def activations() -> Iterator[list[hooks.MilestoneReached]]:
    heard: list[hooks.MilestoneReached] = []
    hooks.activation_listener_register(heard.append)
    yield heard
    hooks.activation_listener_unregister(heard.append)


def test_signup_records_practice_created_after_commit(
    make_practice: Callable[..., Pair], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _owner, practice = make_practice("created", schema=False)
    milestone = PracticeMilestone.objects.get(practice=practice)
    assert milestone.key == MilestoneKey.PRACTICE_CREATED
    assert milestone.reached_at == practice.created_at


def test_patient_page_records_first_patient_once_and_never_moves_it(
    practice_a: Pair, client_for: Callable[..., Client], django_capture_on_commit_callbacks
) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/patients/new/", {"first_name": "Ana", "last_name": "One"}).status_code == 302
    first = PracticeMilestone.objects.get(practice=alpha, key=MilestoneKey.FIRST_PATIENT)

    milestone_cache_clear()  # another process that has not seen it: the database still decides
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/patients/new/", {"first_name": "Ben", "last_name": "Two"}).status_code == 302
    with tenant_context(alpha):
        Patient.objects.all().delete()
    assert list(PracticeMilestone.objects.filter(practice=alpha, key=MilestoneKey.FIRST_PATIENT)) == [first]
    assert PracticeMilestone.objects.get(pk=first.pk).reached_at == first.reached_at


def test_a_refused_or_rolled_back_action_records_nothing(
    practice_a: Pair, client_for: Callable[..., Client], django_capture_on_commit_callbacks
) -> None:
    owner, alpha = practice_a
    with django_capture_on_commit_callbacks(execute=True):
        bad = client_for(owner, alpha).post("/patients/new/", {"first_name": "", "last_name": "X"})
    assert bad.status_code == 400
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
        tenant_context(alpha),
    ):
        practice_services.patient_create(practice=alpha, first_name="Rolled", last_name="Back")
        raise RuntimeError("the caller's transaction fails after the service")
    assert callbacks == []
    assert _keys(alpha) == set()


def test_a_guest_from_another_practice_records_for_the_practice_they_act_in(
    make_practice: Callable[..., Pair], client_for: Callable[..., Client], django_capture_on_commit_callbacks
) -> None:
    """The attacker's side: the owner of Bravo is a guest in Alpha. What they do in Alpha counts
    for Alpha only; what their guest role does not allow counts for nobody."""
    _owner, alpha = make_practice("alpha")
    guest, bravo = make_practice("bravo", schema=False)
    membership = Membership.objects.create(user=guest, practice=alpha, role=Role.GUEST, joined_via=JoinedVia.INVITATION)
    client = client_for(guest, alpha)

    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post("/patients/new/", {"first_name": "No", "last_name": "Access"})
        refused_api = client.post(
            "/api/patients/", {"first_name": "No", "last_name": "Access"}, content_type="application/json"
        )
    assert refused.status_code == 403
    assert refused_api.status_code == 403
    assert _keys(alpha) == set()
    assert _keys(bravo) == set()

    membership.granted_permissions = ["edit_patients", "view_patients"]
    membership.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/patients/new/", {"first_name": "Yes", "last_name": "Access"}).status_code == 302
    # The guest's own practice (and the session's other practices) gained nothing.
    assert _keys(alpha) == {MilestoneKey.FIRST_PATIENT}
    assert _keys(bravo) == set()


def test_appointments_record_booked_and_completed(
    practice_a: Pair, client_for: Callable[..., Client], django_capture_on_commit_callbacks
) -> None:
    owner, alpha = practice_a
    with tenant_context(alpha):
        patient = PatientFactory()
    starts, ends = _soon()
    form = {
        "patient": patient.pk,
        "starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": ends.strftime("%Y-%m-%dT%H:%M"),
    }
    client = client_for(owner, alpha)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/appointments/new/", {**form, "status": "scheduled"}).status_code == 302
    assert _keys(alpha) == {MilestoneKey.FIRST_APPOINTMENT_BOOKED}
    with tenant_context(alpha):
        appointment_id = patient.appointments.get().pk
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/appointments/{appointment_id}/edit/", {**form, "status": "completed"}).status_code == 302
    assert _keys(alpha) == {MilestoneKey.FIRST_APPOINTMENT_BOOKED, MilestoneKey.FIRST_APPOINTMENT_COMPLETED}


def test_invitations_record_invited_and_the_referral_sent(
    practice_a: Pair, client_for: Callable[..., Client], django_capture_on_commit_callbacks
) -> None:
    from invitations.models import Invitation
    from invitations.services import invitation_create_many, invitation_send

    owner, alpha = practice_a
    with django_capture_on_commit_callbacks(execute=False):  # the send task is not queued here
        invitation_create_many(practice=alpha, invited_by=owner, emails="colleague@example.com")
    assert _keys(alpha) == set()  # not before the commit
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create_many(practice=alpha, invited_by=owner, emails="colleague2@example.com")
    assert MilestoneKey.FIRST_COLLEAGUE_INVITED in _keys(alpha)
    assert MilestoneKey.FIRST_REFERRAL_SENT not in _keys(alpha)
    with django_capture_on_commit_callbacks(execute=True):
        assert invitation_send(invitation_id=Invitation.objects.order_by("pk").first().pk)
    assert MilestoneKey.FIRST_REFERRAL_SENT in _keys(alpha)


def test_a_colleague_joining_records_for_the_joined_practice_only(
    make_practice: Callable[..., Pair], django_capture_on_commit_callbacks
) -> None:
    from tenants.team.services import membership_create

    _owner, alpha = make_practice("alpha")
    colleague, bravo = make_practice("bravo", schema=False)
    with django_capture_on_commit_callbacks(execute=True):
        membership_create(user=colleague, practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    assert _keys(alpha) == {MilestoneKey.FIRST_COLLEAGUE_JOINED}
    assert _keys(bravo) == set()


def test_unknown_key_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown milestone"):
        milestone_record(practice_id=1, key="first_dinosaur")


def test_written_once_keeps_the_first_time(practice_a: Pair) -> None:
    _owner, alpha = practice_a
    earlier = timezone.now() - datetime.timedelta(days=3)
    assert milestone_write(practice_id=alpha.pk, key=MilestoneKey.FIRST_PAYMENT, at=earlier) is True
    milestone_cache_clear()
    assert milestone_write(practice_id=alpha.pk, key=MilestoneKey.FIRST_PAYMENT, at=timezone.now()) is False
    assert PracticeMilestone.objects.get(practice=alpha, key=MilestoneKey.FIRST_PAYMENT).reached_at == earlier


@pytest.mark.django_db(transaction=True)
@pytest.mark.practice_rows_only
def test_concurrent_writers_record_one_row_and_one_announcement(make_practice: Callable[..., Pair]) -> None:
    """Real threads, real connections, real commits: the unique constraint decides."""
    _owner, alpha = make_practice("alpha")
    heard: list[hooks.MilestoneReached] = []
    hooks.milestone_listener_register(heard.append)
    writers = 8
    barrier = threading.Barrier(writers)
    results: list[bool] = []

    def write(offset: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(
                milestone_write(
                    practice_id=alpha.pk,
                    key=MilestoneKey.FIRST_COLLEAGUE_INVITED,
                    at=timezone.now() - datetime.timedelta(seconds=offset),
                )
            )
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=write, args=(offset,)) for offset in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        hooks._milestone_listeners.remove(heard.append)
    assert sorted(results) == [False] * (writers - 1) + [True]
    assert PracticeMilestone.objects.filter(practice=alpha, key=MilestoneKey.FIRST_COLLEAGUE_INVITED).count() == 1
    assert [event.key for event in heard] == [MilestoneKey.FIRST_COLLEAGUE_INVITED]


# --------------------------------------------------------------------------- activation


def _add_patients(practice: Practice, count: int) -> None:
    with tenant_context(practice):
        for number in range(count):
            practice_services.patient_create(practice=practice, first_name=f"P{number}", last_name="Patient")


def _complete_one(practice: Practice) -> None:
    starts, ends = _soon()
    with tenant_context(practice):
        patient = Patient.objects.first() or PatientFactory()
        practice_services.appointment_create(
            practice=practice, patient=patient, starts_at=starts, ends_at=ends, status=AppointmentStatus.COMPLETED
        )


def test_activation_needs_three_patients_and_a_completed_visit(
    practice_a: Pair, activations: list[hooks.MilestoneReached], django_capture_on_commit_callbacks
) -> None:
    _owner, alpha = practice_a
    with django_capture_on_commit_callbacks(execute=True):
        _add_patients(alpha, 2)
        _complete_one(alpha)
    assert MilestoneKey.ACTIVATED not in _keys(alpha)
    assert activations == []
    with django_capture_on_commit_callbacks(execute=True):
        _add_patients(alpha, 1)
    assert MilestoneKey.ACTIVATED in _keys(alpha)
    assert [(event.practice_id, event.key) for event in activations] == [(alpha.pk, MilestoneKey.ACTIVATED)]
    with django_capture_on_commit_callbacks(execute=True):
        _add_patients(alpha, 1)
    assert len(activations) == 1  # once


def test_activation_outside_the_window_does_not_count(practice_a: Pair, django_capture_on_commit_callbacks) -> None:
    _owner, alpha = practice_a
    Practice.objects.filter(pk=alpha.pk).update(created_at=timezone.now() - datetime.timedelta(days=15))
    with django_capture_on_commit_callbacks(execute=True):
        _add_patients(alpha, 3)
        _complete_one(alpha)
    assert MilestoneKey.ACTIVATED not in _keys(alpha)
    assert MilestoneKey.FIRST_PATIENT in _keys(alpha)


def test_activation_rule_is_data(practice_a: Pair, django_capture_on_commit_callbacks) -> None:
    _owner, alpha = practice_a
    ActivationRule.objects.update_or_create(
        pk=1,
        defaults={
            "minimum_patients": 1,
            "minimum_completed_appointments": 0,
            "required_milestones": [MilestoneKey.FIRST_COLLEAGUE_INVITED],
            "within_days": 30,
        },
    )
    milestone_cache_clear()
    with django_capture_on_commit_callbacks(execute=True):
        _add_patients(alpha, 1)
    assert MilestoneKey.ACTIVATED not in _keys(alpha)  # the invitation is still missing
    with django_capture_on_commit_callbacks(execute=True):
        milestone_record(practice_id=alpha.pk, key=MilestoneKey.FIRST_COLLEAGUE_INVITED)
    assert MilestoneKey.ACTIVATED in _keys(alpha)
    assert activation_evaluate(practice_id=alpha.pk) is False  # already activated: nothing to do


@pytest.mark.practice_rows_only("referrer", "newcomer")
def test_the_first_paid_invoice_records_first_payment_at_its_paid_time_once(
    public_tenant: Practice, referred: dict, django_capture_on_commit_callbacks
) -> None:
    from tests.billing_support import post_event, process_all
    from tests.stripe_helpers import invoice_paid

    practice = referred["practice"]
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", event_id="evt_first"))
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_second", event_id="evt_second"))
    with django_capture_on_commit_callbacks(execute=True):
        process_all()
        process_all()  # Stripe retries: nothing moves
    payment = PracticeMilestone.objects.get(practice=practice, key=MilestoneKey.FIRST_PAYMENT)
    from billing.models import Payment

    assert payment.reached_at == Payment.objects.get(stripe_invoice_id="in_first").paid_at
    assert not PracticeMilestone.objects.filter(practice=referred["referrer_practice"]).exists()
