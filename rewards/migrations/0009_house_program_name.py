"""The house program made by billing 0002 was called "Two-sided credit", but it pays only the
referrer: referrers read its name on *My referrals* (issue 11), so it takes the name a new
install gives it ("Referral credit"), unless staff renamed it or made it two-sided since."""

from django.db import migrations

OLD, NEW = "Two-sided credit", "Referral credit"


def forwards(apps, schema_editor):
    program_model = apps.get_model("rewards", "ReferralProgram")
    for program in program_model.objects.filter(name=OLD):
        if not program.rules.exclude(recipient="referrer").exists():
            program.name = NEW
            program.save(update_fields=["name"])


def backwards(apps, schema_editor):
    apps.get_model("rewards", "ReferralProgram").objects.filter(name=NEW).update(name=OLD)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0008_affiliate_ledger")]

    operations = [migrations.RunPython(forwards, backwards)]
