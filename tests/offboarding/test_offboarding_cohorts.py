"""The staff cohort page after a practice is deleted and restored: the restored practice is the same
practice (Practice.restored_from), so it counts once, in its original signup cohort and channel;
a deleted practice that is not restored still counts where it was (history does not change)."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from lifecycle.cohorts import CohortRow, cohort_csv_rows, cohorts_build
from offboarding.services import practice_delete, practice_restore
from onboarding.models import MilestoneKey
from onboarding.services import milestone_write
from referrals.models import Eligibility, Referral, ReferralSource
from rewards.analytics import DateRange
from tenants.models import Practice, User
from tests.factories import UserFactory
from tests.offboarding.offboarding_support import COMMAND, exported

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only("referrer", "quiet")]

Pair = tuple[User, Practice]
SIGNED_UP_DAYS_AGO = 20


def _range() -> DateRange:
    today = timezone.localdate()
    return DateRange(start=today - datetime.timedelta(days=90), end=today, cohort="month")


def _figures() -> dict[tuple[datetime.date, str], tuple[Any, ...]]:
    return {(row.cohort, row.channel): _row_figures(row) for row in cohorts_build(period_range=_range())}


def _row_figures(row: CohortRow) -> tuple[Any, ...]:
    milestones = {key: dict(figures.reached_by_day) for key, figures in row.milestones.items()}
    return (row.practices, milestones, row.first_value_median_hours, row.first_value_p75_hours)


def _reached(practice: Practice, key: str, at: datetime.datetime) -> None:
    milestone_write(practice_id=practice.pk, key=key, at=at, notify=False)


@pytest.fixture
def cohort(make_practice: Callable[..., Pair]) -> dict[str, Practice]:
    """Two practices that signed up 20 days ago: `smile` by a referral link (first patient after
    6 hours, activated after 2 days) and `quiet`, organic (a first patient only)."""
    _referrer_owner, home = make_practice("referrer")
    Practice.objects.filter(pk=home.pk).update(created_at=timezone.now() - datetime.timedelta(days=400))
    signup = timezone.now() - datetime.timedelta(days=SIGNED_UP_DAYS_AGO)
    practices = {}
    for slug in ("smile", "quiet"):
        owner, practice = make_practice(slug)
        Practice.objects.filter(pk=practice.pk).update(created_at=signup)
        practice.refresh_from_db()
        _reached(practice, MilestoneKey.FIRST_PATIENT, signup + datetime.timedelta(hours=6))
        practices[slug] = practice
        if slug == "smile":
            Referral.objects.create(
                referrer=_referrer_owner, referred_user=owner, referred_practice=practice,
                source=ReferralSource.LINK, eligibility=Eligibility.ELIGIBLE,
            )  # fmt: skip
            _reached(practice, MilestoneKey.ACTIVATED, signup + datetime.timedelta(days=2))
    return practices


def _deleted_and_restored(practice: Practice, slug: str) -> Practice:
    archive, _manifest = exported(practice)
    practice_delete(practice=practice, actor=COMMAND, reason="Left us")
    return practice_restore(archive_file=archive, slug=slug, actor=COMMAND, reason="Came back").practice


def test_delete_keeps_and_delete_then_restore_keeps_the_cohort_figures(cohort: dict[str, Practice]) -> None:
    before = _figures()
    (cohort_key,) = {key[0] for key in before}
    assert before[(cohort_key, "all")][0] == 2 and before[(cohort_key, "link")][0] == 1

    archive, _manifest = exported(cohort["smile"])
    practice_delete(practice=cohort["smile"], actor=COMMAND, reason="Left us")
    assert _figures() == before  # a deleted practice still counts where it signed up

    restored = practice_restore(archive_file=archive, slug="smile-again", actor=COMMAND, reason="Came back").practice
    assert restored.restored_from_id == cohort["smile"].pk
    assert Referral.objects.get(referred_practice=restored).source == ReferralSource.LINK  # moved by the restore
    assert _figures() == before  # not a new signup this month, not organic, not twice


def test_what_a_restored_practice_reaches_counts_in_its_original_cohort_once(cohort: dict[str, Practice]) -> None:
    before = _figures()
    (cohort_key,) = {key[0] for key in before}
    restored = _deleted_and_restored(cohort["smile"], "smile-again")
    _reached(restored, MilestoneKey.FIRST_PAYMENT, timezone.now())  # 20 days after the original signup
    _reached(restored, MilestoneKey.FIRST_PATIENT, timezone.now())  # already held: ignored by the constraint
    after = {(row.cohort, row.channel): row for row in cohorts_build(period_range=_range())}
    assert set(after) == set(before)
    for channel, first_patients in (("all", 2), ("link", 1)):
        row = after[(cohort_key, channel)]
        assert row.practices == before[(cohort_key, channel)][0]
        assert row.milestones[MilestoneKey.FIRST_PAYMENT].reached_by_day == {1: 0, 7: 0, 30: 1}
        assert row.milestones[MilestoneKey.FIRST_PATIENT].reached_by_day == dict.fromkeys((1, 7, 30), first_patients)
        assert row.milestones[MilestoneKey.ACTIVATED].reached_by_day == {1: 0, 7: 1, 30: 1}
    assert after[(cohort_key, "all")].first_value_median_hours == pytest.approx(48)


def test_a_restore_of_a_restored_practice_still_counts_once(cohort: dict[str, Practice]) -> None:
    before = _figures()
    again = _deleted_and_restored(cohort["smile"], "smile-again")
    _reached(again, MilestoneKey.FIRST_COLLEAGUE_INVITED, timezone.now())
    once_more = _deleted_and_restored(again, "smile-third")
    assert once_more.restored_from_id == cohort["smile"].pk  # the original signup, not the middle one
    (cohort_key,) = {key[0] for key in before}
    row = {(r.cohort, r.channel): r for r in cohorts_build(period_range=_range())}[(cohort_key, "all")]
    assert row.practices == 2
    # reached by the middle practice, copied into the third: one practice, counted once
    assert row.milestones[MilestoneKey.FIRST_COLLEAGUE_INVITED].reached_by_day[30] == 1
    assert row.milestones[MilestoneKey.ACTIVATED].reached_by_day[30] == 1


def test_a_copy_restored_while_the_original_lives_is_not_a_second_signup(cohort: dict[str, Practice]) -> None:
    before = _figures()
    archive, _manifest = exported(cohort["smile"])
    copy = practice_restore(archive_file=archive, slug="smile-copy", actor=COMMAND, reason="Training copy").practice
    assert copy.restored_from_id == cohort["smile"].pk
    assert _figures() == before


def test_the_csv_agrees_with_the_page_after_a_restore(
    cohort: dict[str, Practice], client_for: Callable[..., Client]
) -> None:
    _deleted_and_restored(cohort["smile"], "smile-again")
    staff = client_for(UserFactory(email="staff@example.com", is_staff=True))
    query = f"?start={_range().start.isoformat()}&end={_range().end.isoformat()}&cohort=month"
    page_rows = staff.get(f"/staff/onboarding/cohorts/{query}").context["rows"]
    export = staff.get(f"/staff/onboarding/cohorts.csv{query}")
    assert export.status_code == 200
    lines = list(csv.reader(io.StringIO(export.content.decode())))
    assert lines == [[str(value) for value in line] for line in cohort_csv_rows(page_rows)]
    by_channel = {line["channel"]: line["practices"] for line in csv.DictReader(io.StringIO(export.content.decode()))}
    assert by_channel == {"all": "2", "link": "1", "organic": "1"}


def test_the_admin_shows_what_a_practice_was_restored_from_without_letting_it_be_edited(
    cohort: dict[str, Practice], client_for: Callable[..., Client]
) -> None:
    restored = _deleted_and_restored(cohort["smile"], "smile-again")
    staff = User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")
    page = client_for(staff).get(f"/admin/tenants/practice/{restored.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert f"Deleted practice {cohort['smile'].pk}" in content  # the original, now a tombstone
    assert 'name="restored_from"' not in content
