"""Every practice has its billing account row: `practice_create` now creates it (through the
hand-off billing registers with tenants), and `Practice.plan` only reads. This creates the rows
practices made before that are missing (the public tenant is not a practice and gets none)."""

from django.db import migrations


def accounts_create(apps, schema_editor):
    Practice = apps.get_model("tenants", "Practice")
    Plan = apps.get_model("billing", "Plan")
    PracticeAccount = apps.get_model("billing", "PracticeAccount")
    freemium = Plan.objects.filter(is_freemium=True).first()
    if freemium is None:
        return
    missing = Practice.objects.exclude(schema_name="public").filter(billing_account__isnull=True)
    PracticeAccount.objects.bulk_create(
        [PracticeAccount(practice_id=pk, plan=freemium) for pk in missing.values_list("pk", flat=True).iterator()],
        batch_size=1000,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0006_rewards_move_to_rewards_app'),
        ('tenants', '0004_access_change_setting_changed'),
    ]

    operations = [migrations.RunPython(accounts_create, migrations.RunPython.noop)]
