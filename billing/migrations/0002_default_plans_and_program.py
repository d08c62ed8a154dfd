from django.db import migrations


def plans_create(apps):
    Plan = apps.get_model("billing", "Plan")
    Plan.objects.get_or_create(
        code="freemium",
        defaults={
            "name": "Freemium",
            "is_freemium": True,
            "price_cents": 0,
            "max_patients": 100,
            "max_practitioners": 2,
            "sort_order": 0,
        },
    )
    Plan.objects.get_or_create(
        code="pro",
        defaults={
            "name": "Pro",
            "price_cents": 4900,
            "currency": "usd",
            "interval": "month",
            # The stand-in's price; production edits it in the admin to the live Stripe price id.
            "stripe_price_id": "price_dentaltap_pro_monthly",
            "sort_order": 10,
        },
    )


def program_create(apps, app_label="billing"):
    """The referral program's first terms. The model lived in billing when this ran first; it is
    now `rewards.ReferralProgram` (same table), which the test suite passes here."""
    ReferralProgram = apps.get_model(app_label, "ReferralProgram")
    if not ReferralProgram.objects.exists():
        ReferralProgram.objects.create(
            name="Two-sided credit", reward_cents=5000, currency="usd", hold_days=14, yearly_cap_per_referrer=20
        )


def create_defaults(apps, schema_editor):
    plans_create(apps)
    program_create(apps)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
