"""The plans billing 0002 made get their Russian and German names (practices read them on the
Billing page, in limit messages and emails), unless staff renamed them or translated them already."""

from django.db import migrations

NAMES = {
    # code: (English name as created, Russian, German)
    "freemium": ("Freemium", "Бесплатный", "Kostenlos"),
    "pro": ("Pro", "Pro", "Pro"),
}


def forwards(apps, schema_editor):
    plan_model = apps.get_model("billing", "Plan")
    for code, (english, russian, german) in NAMES.items():
        plan_model.objects.filter(code=code, name=english, name_ru="").update(name_ru=russian)
        plan_model.objects.filter(code=code, name=english, name_de="").update(name_de=german)


class Migration(migrations.Migration):
    dependencies = [("billing", "0011_translated_names")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
