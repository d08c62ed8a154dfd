"""Today's program becomes the default program with one rule: the referrer gets the program's
flat credit after the referred practice's first payment, with its hold and its yearly cap.

The newest active program row (what `program_current` applied) is that default, from the first
program's creation on, open-ended; its rule carries its amount, hold and cap. Every existing
reward points at that program and rule, as the referrer's reward of the referral's one
occurrence: its amount, status, hold date, Stripe transaction and ledger entries are left as
they are, so nothing is credited again (the Stripe idempotency keys are built from the reward
ids, which do not change). Older program rows stay, inactive, for the admin's history.

Backwards: the rule's terms go back onto the program row; rewards keep pointing at it."""

from django.db import migrations
from django.db.models import F, Min


def forwards(apps, schema_editor):
    Program = apps.get_model("rewards", "ReferralProgram")
    Rule = apps.get_model("rewards", "RewardRule")
    Reward = apps.get_model("rewards", "Reward")
    current = Program.objects.filter(is_active=True).order_by("-created_at", "-pk").first()
    if current is None:
        current = Program.objects.order_by("-created_at", "-pk").first()
    if current is None:
        return  # a new install: rewards.programs creates the house program on first use
    first_created = Program.objects.aggregate(first=Min("created_at"))["first"]
    Program.objects.exclude(pk=current.pk).update(is_active=False, is_default=False)
    current.is_default, current.is_active, current.starts_at, current.ends_at = True, True, first_created, None
    current.save()
    rule = Rule.objects.create(
        program=current,
        name=f"{current.reward_cents / 100:g} {current.currency.upper()} to the referrer after the first payment",
        trigger="first_payment",
        recipient="referrer",
        structure="flat",
        amount_cents=current.reward_cents,
        duration="once",
        hold_days=current.hold_days,
        cap_period="year",
        cap_count=current.yearly_cap_per_referrer,
        condition="none",
    )
    Reward.objects.update(
        program=current, rule=rule, recipient="referrer", occurrence="once", recipient_user_id=F("referrer_id")
    )


def backwards(apps, schema_editor):
    Program = apps.get_model("rewards", "ReferralProgram")
    for program in Program.objects.filter(is_default=True):
        rule = program.rules.order_by("pk").first()
        if rule is not None:
            program.reward_cents, program.hold_days = rule.amount_cents or program.reward_cents, rule.hold_days
            program.yearly_cap_per_referrer = rule.cap_count or program.yearly_cap_per_referrer
            program.save()


class Migration(migrations.Migration):
    dependencies = [("rewards", "0003_programs")]

    operations = [migrations.RunPython(forwards, backwards)]
