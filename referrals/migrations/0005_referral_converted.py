# The referral's conversion (its practice's first standing payment), kept from now on by rewards
# from billing's payment hand-offs (rewards/conversions.py); rewards' migration 0006 fills it for
# the referrals that exist. Issue 14.

from django.db import migrations, models

class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0004_referral_risk_level"),
    ]

    operations = [
        migrations.AddField(
            model_name="referral",
            name="converted_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="converted"),
        ),
        migrations.AddField(
            model_name="referral",
            name="first_paid_amount_cents",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="first payment (cents)"),
        ),
        migrations.AddIndex(
            model_name="referral",
            index=models.Index(
                fields=["created_at"],
                include=("referrer", "source", "eligibility", "converted_at"),
                name="referral_cohort_idx",
            ),
        ),
    ]
