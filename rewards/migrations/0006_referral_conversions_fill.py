# Fills the referral's conversion (referrals 0005) for the referrals that exist: its practice's
# first standing payment. From now on rewards keeps it (rewards/conversions.py). Issue 14.

from django.db import migrations

FILL = """
UPDATE referrals_referral r
SET converted_at = fp.paid_at, first_paid_amount_cents = fp.amount_cents
FROM (
    SELECT DISTINCT ON (practice_id) practice_id, paid_at, amount_cents
    FROM billing_payment
    WHERE NOT is_reversed AND practice_id IN (
        SELECT referred_practice_id FROM referrals_referral WHERE referred_practice_id IS NOT NULL)
    ORDER BY practice_id, paid_at, id
) AS fp
WHERE r.referred_practice_id = fp.practice_id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("rewards", "0005_rule_required"),
        ("referrals", "0005_referral_converted"),
        ("billing", "0007_practice_account_for_every_practice"),
    ]

    operations = [migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop, elidable=True)]
