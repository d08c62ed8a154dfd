"""The house program and its rule get their Russian and German names (referrers read the program
on My referrals and the rule when they reach its cap), unless staff renamed or translated them.

The program is "Referral credit" (rewards 0009). Its rule is "$50 to the referrer after the first
payment" on a new install (rewards.programs.HOUSE_RULE), or "<amount> <CUR> to the referrer after
the first payment" where rewards 0004 made it from an older program's terms."""

import re

from django.db import migrations

PROGRAM = ("Referral credit", "Бонус за рекомендацию", "Empfehlungsguthaben")
RULE = re.compile(r"^(?:\$(?P<dollars>\d+(?:\.\d+)?)|(?P<amount>\d+(?:\.\d+)?) (?P<code>[A-Z]{3})) to the referrer after the first payment$")
NBSP = "\u00a0"


def _amount(match):
    """The amount as the glossary writes it: the number (decimal comma), a no-break space, the
    symbol or code ("50 $", "49,5 EUR")."""
    number = (match["dollars"] or match["amount"]).replace(".", ",")
    return f"{number}{NBSP}{'$' if match['dollars'] else match['code']}"


def forwards(apps, schema_editor):
    program_model = apps.get_model("rewards", "ReferralProgram")
    rule_model = apps.get_model("rewards", "RewardRule")
    english, russian, german = PROGRAM
    program_model.objects.filter(name=english, name_ru="").update(name_ru=russian)
    program_model.objects.filter(name=english, name_de="").update(name_de=german)
    for rule in rule_model.objects.filter(name__endswith=" to the referrer after the first payment"):
        match = RULE.match(rule.name)
        if match is None:
            continue
        amount = _amount(match)
        rule.name_ru = rule.name_ru or f"{amount} рекомендателю после первой оплаты"
        rule.name_de = rule.name_de or f"{amount} für den Empfehlungsgeber nach der ersten Zahlung"
        rule.save(update_fields=["name_ru", "name_de"])


class Migration(migrations.Migration):
    dependencies = [("rewards", "0010_translated_names")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
