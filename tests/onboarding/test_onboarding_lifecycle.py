"""Lifecycle emails (issue 12): scheduled by milestones, claimed FOR UPDATE SKIP LOCKED, sent at
most once per practice, step and recipient, skipped when the awaited milestone came first."""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import signal
import threading
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path

import pytest
from django import forms
from django.core import mail, signing
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from lifecycle.admin import LifecycleStepTextForm
from lifecycle.models import LifecycleMessage, LifecycleMessageStatus, LifecycleStep, LifecycleUnsubscribe
from lifecycle.scheduling import lifecycle_messages_schedule_count, sane_moment
from lifecycle.services import UNSUBSCRIBE_SALT, lifecycle_send_due, unsubscribe_token
from onboarding.hooks import MilestoneReached
from onboarding.models import MilestoneKey
from onboarding.services import milestone_write
from tenants.models import JoinedVia, Membership, Practice, Role, User
from tests.factories import UserFactory
from tests.lifecycle_support import default_steps_ensure, worker_send_due_with_hanging_mail_server

Pair = tuple[User, Practice]
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# Noon in Berlin: inside the sending hours, whatever day the suite runs.
NOON = datetime.datetime(2026, 6, 10, 12, 0, tzinfo=BERLIN)


@pytest.fixture
def steps(db: None) -> dict[str, LifecycleStep]:
    default_steps_ensure()
    return {step.key: step for step in LifecycleStep.objects.all()}


def _reach(practice: Practice, key: str, at: datetime.datetime) -> int:
    """What the milestone listener does when `key` is newly reached."""
    milestone_write(practice_id=practice.pk, key=key, at=at, notify=False)
    return lifecycle_messages_schedule_count(MilestoneReached(practice_id=practice.pk, key=key, reached_at=at))


def _member(practice: Practice, role: str, email: str) -> User:
    user = UserFactory(email=email)
    Membership.objects.create(user=user, practice=practice, role=role, joined_via=JoinedVia.INVITATION)
    return user


@pytest.mark.practice_rows_only
def test_a_milestone_schedules_its_step_for_members_who_can_act_on_it(
    practice_a: Pair, steps: dict[str, LifecycleStep]
) -> None:
    owner, alpha = practice_a
    dentist = _member(alpha, Role.DENTIST, "dentist@example.com")  # may invite colleagues
    _member(alpha, Role.ASSISTANT, "assistant@example.com")  # may not
    _member(alpha, Role.GUEST, "guest@example.com")
    assert _reach(alpha, MilestoneKey.ACTIVATED, NOON) == 2
    message = LifecycleMessage.objects.filter(recipient=owner).get()
    assert message.step == steps["invite-your-team"]
    assert message.due_at == NOON + datetime.timedelta(hours=24)
    assert set(LifecycleMessage.objects.values_list("recipient", flat=True)) == {owner.pk, dentist.pk}
    # Reached again (a retry, another process): the unique sent-record keeps one row each.
    assert _reach(alpha, MilestoneKey.ACTIVATED, NOON) == 0
    assert LifecycleMessage.objects.count() == 2


def test_sending_hours_are_local() -> None:
    night = datetime.datetime(2026, 6, 10, 23, 30, tzinfo=BERLIN)
    assert sane_moment(night, BERLIN) == datetime.datetime(2026, 6, 11, 9, 0, tzinfo=BERLIN)
    early = datetime.datetime(2026, 6, 10, 6, 0, tzinfo=BERLIN)
    assert sane_moment(early, BERLIN) == datetime.datetime(2026, 6, 10, 9, 0, tzinfo=BERLIN)
    assert sane_moment(NOON, BERLIN) == NOON


@pytest.mark.practice_rows_only
def test_due_emails_are_sent_once_with_one_click_unsubscribe_headers(
    practice_a: Pair, steps: dict[str, LifecycleStep]
) -> None:
    owner, alpha = practice_a
    _reach(alpha, MilestoneKey.ACTIVATED, NOON - datetime.timedelta(days=2))
    before = lifecycle_send_due(now=NOON)
    assert before.sent == 1
    assert lifecycle_send_due(now=NOON).outcomes == {}
    (email,) = mail.outbox
    assert email.to == [owner.email]
    assert alpha.name in email.subject
    assert f"http://{alpha.slug}.dentaltap.localhost:" in email.body and "/invitations/" in email.body
    assert "/r/" in email.body  # the recipient's referral link
    unsubscribe = email.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<http://dentaltap.localhost:") and "/emails/unsubscribe/" in unsubscribe
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    message = LifecycleMessage.objects.get()
    assert email.extra_headers["Message-ID"] == message.message_id
    assert (message.status, message.sent_at, message.language) == (LifecycleMessageStatus.SENT, NOON, "en")


@pytest.mark.practice_rows_only
def test_skipped_when_the_awaited_milestone_came_first_or_the_member_left(
    make_practice: Callable[..., Pair], steps: dict[str, LifecycleStep]
) -> None:
    owner, alpha = make_practice("alpha")
    dentist = _member(alpha, Role.DENTIST, "dentist@example.com")
    _reach(alpha, MilestoneKey.FIRST_PATIENT, NOON - datetime.timedelta(days=2))
    assert LifecycleMessage.objects.count() == 2  # owner and dentist may manage the schedule
    Membership.objects.filter(user=dentist).update(status="revoked")
    milestone_write(practice_id=alpha.pk, key=MilestoneKey.FIRST_APPOINTMENT_BOOKED, at=NOON, notify=False)
    run = lifecycle_send_due(now=NOON)
    assert run.outcomes == {"skipped": 2}
    assert mail.outbox == []
    notes = dict(LifecycleMessage.objects.values_list("recipient", "note"))
    assert notes[owner.pk] == "first_appointment_booked reached meanwhile"


@pytest.mark.practice_rows_only
def test_a_late_claim_at_night_waits_for_the_morning(practice_a: Pair, steps: dict[str, LifecycleStep]) -> None:
    _owner, alpha = practice_a
    _reach(alpha, MilestoneKey.ACTIVATED, NOON - datetime.timedelta(days=2))
    night = datetime.datetime(2026, 6, 10, 2, 0, tzinfo=BERLIN)
    assert lifecycle_send_due(now=night).outcomes == {"deferred": 1}
    assert mail.outbox == []
    assert LifecycleMessage.objects.get().due_at == datetime.datetime(2026, 6, 10, 9, 0, tzinfo=BERLIN)


# --------------------------------------------------------------------------- unsubscribe


@pytest.mark.practice_rows_only
def test_one_click_unsubscribe_stops_this_recipient_only(
    practice_a: Pair, steps: dict[str, LifecycleStep], client_for: Callable[..., Client]
) -> None:
    owner, alpha = practice_a
    dentist = _member(alpha, Role.DENTIST, "dentist@example.com")
    _reach(alpha, MilestoneKey.ACTIVATED, NOON - datetime.timedelta(days=2))
    url = f"/emails/unsubscribe/{unsubscribe_token(user=owner)}/"
    client = client_for()
    page = client.get(url)
    assert page.status_code == 200 and owner.email.encode() in page.content
    assert not LifecycleUnsubscribe.objects.exists()  # a GET (link scanner) changes nothing
    # What a mail client sends for List-Unsubscribe-Post: no cookie, no CSRF token.
    done = Client(HTTP_HOST="dentaltap.localhost", enforce_csrf_checks=True).post(
        url, {"List-Unsubscribe": "One-Click"}
    )
    assert done.status_code == 200
    assert list(LifecycleUnsubscribe.objects.values_list("user", flat=True)) == [owner.pk]
    assert lifecycle_send_due(now=NOON).sent == 1
    assert [email.to for email in mail.outbox] == [[dentist.email]]


@pytest.mark.practice_rows_only
def test_a_forged_or_altered_unsubscribe_link_is_refused(practice_a: Pair, client_for: Callable[..., Client]) -> None:
    owner, _alpha = practice_a
    victim = UserFactory(email="victim@example.com")
    mine = unsubscribe_token(user=owner)
    forged = [
        signing.dumps({"u": victim.pk}, salt="some-other-salt", compress=True),  # not our signature
        signing.dumps({"u": victim.pk}, key="not-the-secret-key", salt=UNSUBSCRIBE_SALT, compress=True),
        mine[:-2] + ("AA" if not mine.endswith("AA") else "BB"),  # my own link, altered
        "nonsense",
    ]
    client = client_for()
    for token in forged:
        response = client.post(f"/emails/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 400, token
    assert not LifecycleUnsubscribe.objects.exists()


# --------------------------------------------------------------------------- texts are checked at save


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("Hello {% if recipient_name %}", "not a valid template"),
        ("Hello {{ recipient_name|nonexistent_filter }}", "not a valid template"),
        ("Your password: {{ user.password }}", "Unknown variable"),
        ('{% include "base.html" %}', "not allowed"),
        ("{% load static %}{% static 'x' %}", "not allowed"),
    ],
)
def test_a_broken_step_text_is_refused_at_save(body: str, problem: str) -> None:
    form = LifecycleStepTextForm(data={"language": "en", "subject": "Hi {{ recipient_name }}", "body": body})
    assert not form.is_valid()
    assert problem in str(form.errors)


def test_a_good_step_text_is_accepted() -> None:
    data = {"language": "de", "subject": "Hallo {{ recipient_name }}", "body": "{{ action_url }} {{ referral_link }}"}
    assert LifecycleStepTextForm(data=data).is_valid()
    with pytest.raises(forms.ValidationError):
        from lifecycle.texts import template_check

        template_check("{{ nope }}", field="body")


def test_staff_preview_shows_every_language(
    public_tenant: Practice, steps: dict[str, LifecycleStep], client_for: Callable[..., Client]
) -> None:
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    step = steps["invite-your-team"]
    response = client_for(staff).get(f"/admin/lifecycle/lifecyclestep/{step.pk}/preview/")
    assert response.status_code == 200
    assert b"Smile Dental" in response.content and b"Kollegen" in response.content
    assert client_for(UserFactory()).get(f"/admin/lifecycle/lifecyclestep/{step.pk}/preview/").status_code == 302


# --------------------------------------------------------------------------- claims under concurrency and crashes


def _schedule_many(practice: Practice, step: LifecycleStep, count: int, due: datetime.datetime) -> None:
    users = [UserFactory(email=f"member-{number}@example.com") for number in range(count)]
    Membership.objects.bulk_create(
        Membership(user=user, practice=practice, role=Role.OWNER, joined_via=JoinedVia.INVITATION) for user in users
    )
    LifecycleMessage.objects.bulk_create(
        LifecycleMessage(practice=practice, step=step, recipient=user, due_at=due) for user in users
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.practice_rows_only
def test_two_claimers_at_once_never_send_a_row_twice(make_practice: Callable[..., Pair]) -> None:
    """Two beat instances: real threads, real connections, real row locks."""
    default_steps_ensure()
    _owner, alpha = make_practice("alpha")
    step = LifecycleStep.objects.get(key="invite-your-team")
    _schedule_many(alpha, step, 30, NOON - datetime.timedelta(hours=1))
    barrier = threading.Barrier(2)
    runs: list[int] = []

    def claimer() -> None:
        try:
            barrier.wait(timeout=10)
            runs.append(lifecycle_send_due(now=NOON).sent)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(runs) == 30
    ids = [email.extra_headers["Message-ID"] for email in mail.outbox]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert LifecycleMessage.objects.filter(status=LifecycleMessageStatus.SENT).count() == 30


@pytest.mark.django_db(transaction=True)
@pytest.mark.practice_rows_only
def test_a_worker_killed_mid_send_loses_nothing_and_sends_once(
    make_practice: Callable[..., Pair], tmp_path: Path
) -> None:
    """A real worker process is SIGKILLed while the mail server holds its message: its
    transaction dies with it, the row stays owed, the next run sends it once, with the same
    Message-ID the dead worker used (so a mail system that got both keeps one)."""
    default_steps_ensure()
    _owner, alpha = make_practice("alpha")
    step = LifecycleStep.objects.get(key="invite-your-team")
    _schedule_many(alpha, step, 1, NOON - datetime.timedelta(hours=1))
    marker = tmp_path / "mail-server-got.json"
    connections.close_all()
    worker = multiprocessing.get_context("fork").Process(
        target=worker_send_due_with_hanging_mail_server, args=(str(marker), NOON)
    )
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text():
            assert worker.is_alive() and time.monotonic() < deadline, "the worker never reached the mail server"
            time.sleep(0.05)
    finally:
        os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
        worker.join(timeout=10)
    (headers,) = json.loads(marker.read_text())
    message = LifecycleMessage.objects.get(step=step)
    assert message.status == LifecycleMessageStatus.SCHEDULED  # not lost: still owed
    assert message.attempts == 0 and message.sent_at is None

    # The dead worker's lock went with its connection.
    run = lifecycle_send_due(now=NOON)
    assert run.sent == 1
    (email,) = mail.outbox
    assert email.extra_headers["Message-ID"] == headers["Message-ID"] == message.message_id
    assert lifecycle_send_due(now=NOON).outcomes == {}
    assert len(mail.outbox) == 1


@pytest.mark.practice_rows_only
def test_milestones_whose_process_died_before_telling_are_told_by_beat(
    practice_a: Pair, steps: dict[str, LifecycleStep]
) -> None:
    """The milestone row is the outbox of its listeners: stored with notified_at empty, it is
    told later by milestones_notify_missed (once; never for a backfilled one)."""
    from onboarding.models import PracticeMilestone
    from onboarding.services import milestones_notify_missed

    owner, alpha = practice_a
    # What a process leaves when it dies between the INSERT and its listeners:
    PracticeMilestone.objects.create(
        practice=alpha, key=MilestoneKey.ACTIVATED, reached_at=NOON - datetime.timedelta(days=1)
    )
    # ... and what the backfill writes (history, born told):
    milestone_write(practice_id=alpha.pk, key=MilestoneKey.FIRST_PATIENT, at=NOON, notify=False)
    assert milestones_notify_missed(owed_for_seconds=120, give_up_after_hours=48) == 0  # too fresh: maybe alive
    PracticeMilestone.objects.update(recorded_at=timezone.now() - datetime.timedelta(minutes=5))
    assert milestones_notify_missed(owed_for_seconds=120, give_up_after_hours=48) == 1
    assert milestones_notify_missed(owed_for_seconds=120, give_up_after_hours=48) == 0
    assert list(LifecycleMessage.objects.values_list("step__key", "recipient")) == [("invite-your-team", owner.pk)]
    assert lifecycle_send_due(now=NOON).sent == 1
    assert [email.to for email in mail.outbox] == [[owner.email]]


@pytest.mark.practice_rows_only
def test_the_text_is_picked_by_the_recipients_language_with_english_as_fallback(
    practice_a: Pair, steps: dict[str, LifecycleStep]
) -> None:
    from lifecycle.services import message_email_build, recipient_language, step_text

    owner, alpha = practice_a
    step = steps["invite-your-team"]
    assert step_text(step, "de").language == "de"  # type: ignore[union-attr]
    assert step_text(step, "ru").language == "ru"  # type: ignore[union-attr]
    assert step_text(step, "fr").language == "en"  # type: ignore[union-attr]
    assert recipient_language(owner) == "en"  # users carry no language yet (issue 13)
    message = LifecycleMessage.objects.create(practice=alpha, step=step, recipient=owner, due_at=NOON)
    email = message_email_build(message, step_text(step, "de"))  # type: ignore[arg-type]
    assert email.subject == f"{alpha.name} läuft: laden Sie Ihr Team ein"
    assert "Keine solchen Tipps mehr" in email.body
