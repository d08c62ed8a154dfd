from django.db import migrations


def create_rule(apps, schema_editor):
    ActivationRule = apps.get_model("onboarding", "ActivationRule")
    ActivationRule.objects.get_or_create(
        pk=1, defaults={"minimum_patients": 3, "minimum_completed_appointments": 1, "within_days": 14}
    )


class Migration(migrations.Migration):
    dependencies = [("onboarding", "0001_initial")]

    operations = [migrations.RunPython(create_rule, migrations.RunPython.noop)]
