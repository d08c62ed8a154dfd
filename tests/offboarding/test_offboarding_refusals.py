"""What stops a deletion (money owed, an open reward on either side of a referral) and what a
deletion must keep (the append-only ledger and the rewards it stands on), and the archives a
restore refuses (damaged, edited, forged, made by newer code)."""

from __future__ import annotations

import datetime
import io
import json
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_exists

from billing import stripe_gateway
from billing.models import LedgerEntry, LedgerKind, PracticeAccount
from dentaltap.errors import ApplicationError
from offboarding.archive import ArchiveError, _signature
from offboarding.models import PracticeOperation
from offboarding.services import PracticeNotDeletable, practice_delete, practice_restore
from rewards.models import Reward, RewardStatus
from rewards.services import program_current
from tenants.models import Practice
from tests.offboarding.offboarding_support import COMMAND, archive_rewritten, exported, manifest_of

pytestmark = pytest.mark.django_db


def _reward(referred: dict[str, Any], status: str) -> Reward:
    program = program_current()
    return Reward.objects.create(
        referral=referred["referral"],
        referrer=referred["referrer"],
        beneficiary_practice=referred["referrer_practice"],
        program=program,
        rule=program.rules.order_by("pk").first(),
        amount_cents=5000,
        currency="usd",
        status=status,
        hold_until=timezone.now() + datetime.timedelta(days=14),
    )


@pytest.mark.parametrize("status", [RewardStatus.PENDING, RewardStatus.ON_HOLD, RewardStatus.CREDITING])
def test_an_open_reward_stops_deleting_either_side_of_the_referral(referred: dict[str, Any], status: str) -> None:
    _reward(referred, status)
    for practice in (referred["referrer_practice"], referred["practice"]):
        with pytest.raises(PracticeNotDeletable) as refused:
            practice_delete(practice=practice, actor=COMMAND, reason="Asked to leave")
        assert "1 referral reward is still open" in refused.value.message
        assert refused.value.status_code == 409
        assert schema_exists(practice.schema_name)
    assert not PracticeOperation.objects.exists()


def test_the_ledger_and_rewards_stay_naming_the_tombstone(referred: dict[str, Any], stripe_standin: Any) -> None:
    reward = _reward(referred, RewardStatus.CREDITED)
    referrer_practice = referred["referrer_practice"]
    entry = LedgerEntry.objects.create(
        practice=referrer_practice,
        reward=reward,
        kind=LedgerKind.REWARD_CREDIT,
        amount_cents=5000,
        currency="usd",
        description="Referral reward",
    )
    operation = practice_delete(practice=referrer_practice, actor=COMMAND, reason="Closed, ticket 9")
    entry.refresh_from_db()
    reward.refresh_from_db()
    tombstone = Practice.objects.get(pk=referrer_practice.pk)
    assert entry.practice_id == reward.beneficiary_practice_id == tombstone.pk
    assert (entry.amount_cents, entry.kind) == (5000, LedgerKind.REWARD_CREDIT)  # never edited
    assert tombstone.schema_name == f"deleted_{tombstone.pk}"
    assert operation.detail["kept"]["ledger_entries"] == 1
    assert operation.practice_slug == "referrer"


def test_an_unpaid_subscription_or_a_stripe_balance_owed_stops_it(make_practice: Any, stripe_standin: Any) -> None:
    owner, practice = make_practice("owes")
    customer = stripe_gateway.customer_create(practice_id=practice.pk, name=practice.name, email=owner.email)
    PracticeAccount.objects.filter(practice=practice).update(
        stripe_customer_id=customer, subscription_status="past_due"
    )
    with pytest.raises(PracticeNotDeletable) as unpaid:
        practice_delete(practice=practice, actor=COMMAND, reason="Asked to leave")
    assert "unpaid invoice (status past_due)" in unpaid.value.message
    PracticeAccount.objects.filter(practice=practice).update(subscription_status="canceled")
    stripe_gateway.customer_balance_adjust(
        customer_id=customer, amount_cents=1250, currency="usd", idempotency_key="owed", description="", metadata={}
    )
    with pytest.raises(PracticeNotDeletable) as owed:
        practice_delete(practice=practice, actor=COMMAND, reason="Asked to leave")
    assert "owes $12.50" in owed.value.message
    assert schema_exists(practice.schema_name)
    assert stripe_standin.state.customers[customer].get("deleted") is None


def test_stripe_away_means_nothing_is_deleted(make_practice: Any, stripe_standin: Any, settings: Any) -> None:
    _, practice = make_practice("offline")
    PracticeAccount.objects.filter(practice=practice).update(stripe_customer_id="cus_unreachable")
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    stripe_gateway._client.cache_clear()
    with pytest.raises(ApplicationError) as refused:
        practice_delete(practice=practice, actor=COMMAND, reason="Asked to leave")
    assert refused.value.status_code == 503 and "nothing was deleted" in refused.value.message
    assert schema_exists(practice.schema_name)


@pytest.fixture
def archive(make_practice: Any) -> io.BytesIO:
    _, practice = make_practice("source")
    out, _ = exported(practice)
    return out


def _restore(archive: io.BytesIO) -> None:
    practice_restore(archive_file=archive, slug="copy", actor=COMMAND, reason="Restore test")


def test_a_damaged_member_is_refused_by_its_checksum(archive: io.BytesIO) -> None:
    damaged = archive_rewritten(archive, {"tenant/practice_patient.csv": b"id,first_name\n1,Mallory\n"})
    with pytest.raises(ArchiveError, match=r"checksum of tenant/practice_patient\.csv fails"):
        _restore(damaged)
    assert not Practice.objects.filter(slug="copy").exists()


def test_an_edited_manifest_is_refused_by_its_signature(archive: io.BytesIO) -> None:
    manifest = manifest_of(archive)
    manifest["practice"]["name"] = "Someone else"
    edited = archive_rewritten(archive, {"manifest.json": json.dumps(manifest).encode()})
    with pytest.raises(ArchiveError, match="signature does not match"):
        _restore(edited)


def test_an_archive_from_newer_code_is_refused(archive: io.BytesIO) -> None:
    manifest = manifest_of(archive)
    manifest["migrations"].append(["practice", "0099_from_the_future"])
    raw = json.dumps(manifest).encode()
    newer = archive_rewritten(archive, {"manifest.json": raw, "manifest.sig": _signature(raw).encode()})
    with pytest.raises(ArchiveError, match=r"made by newer code.*practice\.0099_from_the_future"):
        _restore(newer)
    assert not Practice.objects.filter(slug="copy").exists()


def test_something_else_is_not_an_archive(db: None) -> None:
    with pytest.raises(ArchiveError, match="not a practice archive"):
        _restore(io.BytesIO(b"PK\x03\x04 not really a zip"))


def test_a_restore_takes_a_free_address_only(archive: io.BytesIO, make_practice: Any) -> None:
    make_practice("taken")
    with pytest.raises(ApplicationError) as taken:
        practice_restore(archive_file=archive, slug="taken", actor=COMMAND, reason="Restore test")
    assert "practice_slug" in taken.value.fields
    assert not schema_exists("practice_copy")


def test_a_lost_stripe_step_is_found_by_beat_and_done_once(make_practice: Any, stripe_standin: Any) -> None:
    from offboarding.services import practice_customers_owed
    from offboarding.tasks import practice_customer_delete

    owner, practice = make_practice("lost")
    customer = stripe_gateway.customer_create(practice_id=practice.pk, name=practice.name, email=owner.email)
    PracticeAccount.objects.filter(practice=practice).update(stripe_customer_id=customer)
    operation = practice_delete(practice=practice, actor=COMMAND, reason="Asked to leave")  # its task never ran
    assert practice_customers_owed() == []  # its own task still has time
    PracticeOperation.objects.filter(pk=operation.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=6))
    assert practice_customers_owed() == [operation.pk]
    assert practice_customer_delete.apply(args=[operation.pk]).get() is True
    assert practice_customer_delete.apply(args=[operation.pk]).get() is False
    assert stripe_standin.state.customers[customer]["deleted"] is True
    assert practice_customers_owed() == []


def test_an_archive_signed_before_a_key_rotation_still_restores(archive: io.BytesIO, settings: Any) -> None:
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-after-rotation-" + "x" * 32
    _restore(archive)
    assert Practice.objects.filter(slug="copy").exists()
    settings.SECRET_KEY_FALLBACKS = []
    archive.seek(0)
    with pytest.raises(ArchiveError, match="signature does not match"):
        practice_restore(archive_file=archive, slug="copy-two", actor=COMMAND, reason="Restore test")
