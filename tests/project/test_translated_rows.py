"""Staff-entered names dentists read ship in English, Russian and German, like the code's strings
(tests/project/test_translations.py): every plan, program, rule and catalogue item a database
is given (the data migrations, the house program a new install creates on first use) passes the
admin's own rule for a visible row, so a seeded row added without its translations fails here.
And the data migrations translate only what staff have not renamed or translated themselves."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from billing.models import Plan
from dentaltap.translated import TRANSLATED_LANGUAGES, translated_column, translations_missing
from rewards.models import CatalogueItem, ReferralProgram, RewardRule
from rewards.programs import program_default_ensure

pytestmark = pytest.mark.django_db

# Each model whose rows dentists read, and its translated fields.
TRANSLATED: dict[type[models.Model], tuple[str, ...]] = {
    Plan: ("name",),
    ReferralProgram: ("name",),
    RewardRule: ("name",),
    CatalogueItem: ("name", "description"),
}


def _problems() -> list[str]:
    """Every row that lacks a translation, or fails the admin's validation (which requires
    the translations of a visible row)."""
    problems = []
    for model, fields in TRANSLATED.items():
        for row in model.objects.all():
            missing = translations_missing(row, *fields)
            try:
                row.full_clean()
            except ValidationError as error:
                problems.append(f"{model.__name__} {row}: {error.message_dict}")
            else:
                if missing:
                    problems.append(f"{model.__name__} {row}: no {', '.join(missing)}")
    return problems


def test_every_translated_field_has_its_columns() -> None:
    assert set(TRANSLATED_LANGUAGES) == {code for code, _name in settings.LANGUAGES} - {settings.LANGUAGE_CODE}
    for model, fields in TRANSLATED.items():
        names = {field.name for field in model._meta.get_fields()}
        for field in fields:
            english = model._meta.get_field(field)
            for language in TRANSLATED_LANGUAGES:
                column = model._meta.get_field(translated_column(field, language))
                assert column.name in names and column.max_length == english.max_length  # type: ignore[attr-defined]


def test_the_migrated_rows_are_named_in_every_language() -> None:
    program_default_ensure()
    assert Plan.objects.exists() and ReferralProgram.objects.exists() and RewardRule.objects.exists()
    assert _problems() == []


def test_the_house_program_of_a_new_install_is_named_in_every_language() -> None:
    ReferralProgram.objects.all().delete()
    program_default_ensure()
    program = ReferralProgram.objects.get(is_default=True)
    assert (program.name, program.name_ru, program.name_de) == (
        "Referral credit",
        "Бонус за рекомендацию",
        "Empfehlungsguthaben",
    )
    assert _problems() == []


def test_a_seeded_row_without_its_translations_is_caught() -> None:
    CatalogueItem.objects.create(name="Seeded mug", name_ru="Кружка", cost_points=10)
    assert _problems() == [
        "CatalogueItem Seeded mug (10 points): {'name_de': ['Needed in German: dentists read the catalogue while "
        "an item is active, and their redemptions of it.']}"
    ]


def test_the_data_migrations_translate_only_what_staff_left_as_it_was() -> None:
    rewards_names = importlib.import_module("rewards.migrations.0011_house_names_translated")
    plan_names = importlib.import_module("billing.migrations.0012_plan_names_translated")
    ReferralProgram.objects.all().delete()
    house = ReferralProgram.objects.create(name="Referral credit", is_default=True, is_active=False)
    renamed = ReferralProgram.objects.create(name="Spring bonus", is_active=False)
    rules = {
        "dollars": RewardRule.objects.create(
            program=house, name="$50 to the referrer after the first payment", amount_cents=5000
        ),
        "code": RewardRule.objects.create(
            program=house, name="49.5 EUR to the referrer after the first payment", amount_cents=4950
        ),
        "translated": RewardRule.objects.create(
            program=house, name="$50 to the referrer after the first payment", name_ru="Свой", amount_cents=5000
        ),
        "renamed": RewardRule.objects.create(program=house, name="Welcome bonus", amount_cents=5000),
    }
    Plan.objects.filter(code="freemium").update(name="Starter", name_ru="", name_de="")
    Plan.objects.filter(code="pro").update(name_ru="", name_de="Profi")

    rewards_names.forwards(apps, None)
    plan_names.forwards(apps, None)

    house.refresh_from_db()
    renamed.refresh_from_db()
    assert (house.name_ru, house.name_de) == ("Бонус за рекомендацию", "Empfehlungsguthaben")
    assert (renamed.name_ru, renamed.name_de) == ("", "")
    for rule in rules.values():
        rule.refresh_from_db()
    assert (rules["dollars"].name_ru, rules["dollars"].name_de) == (
        "50\u00a0$ рекомендателю после первой оплаты",
        "50\u00a0$ für den Empfehlungsgeber nach der ersten Zahlung",
    )
    assert rules["code"].name_de == "49,5\u00a0EUR für den Empfehlungsgeber nach der ersten Zahlung"
    assert (rules["translated"].name_ru, rules["translated"].name_de)[0] == "Свой"  # staff's own kept
    assert (rules["renamed"].name_ru, rules["renamed"].name_de) == ("", "")
    plans = {plan.code: (plan.name_ru, plan.name_de) for plan in Plan.objects.all()}
    assert plans["freemium"] == ("", "")  # renamed by staff: theirs to translate
    assert plans["pro"] == ("Pro", "Profi")
