"""dentaltap.translated: a staff-entered name in the active language, English when that column
is empty; the lazy form an email context renders per recipient; which translations a row
lacks; and ModelErrorsForm, which shows a model error about a field the form does not show."""

from __future__ import annotations

import pytest
from django.core.exceptions import NON_FIELD_ERRORS
from django.forms import modelform_factory
from django.template import Context, Template
from django.utils import translation

from billing.models import Plan
from dentaltap.forms import ModelErrorsForm
from dentaltap.translated import translated, translated_lazy, translations_missing
from rewards.models import CatalogueItem


def _item(**names: str) -> CatalogueItem:
    return CatalogueItem(name="Mug", description="For coffee", cost_points=1, **names)


def test_the_active_language_is_read_with_english_as_the_fallback() -> None:
    item = _item(name_ru="Кружка", name_de="", description_de="Für Kaffee")
    with translation.override("ru"):
        assert (translated(item), translated(item, "description")) == ("Кружка", "For coffee")
    with translation.override("de"):
        assert (translated(item), translated(item, "description")) == ("Mug", "Für Kaffee")
    with translation.override("de-at"):  # a regional variant reads its language
        assert translated(item, "description") == "Für Kaffee"
    with translation.override("en"):
        assert translated(item) == "Mug"
    assert translated(item, language="ru") == "Кружка" and translated(None) == ""


def test_the_lazy_value_is_read_in_the_language_it_is_rendered_in() -> None:
    value = translated_lazy(_item(name_ru="Кружка", name_de="Tasse"), "name")
    template = Template("{{ value }}")
    with translation.override("de"):
        assert template.render(Context({"value": value})) == "Tasse"
    with translation.override("ru"):
        assert template.render(Context({"value": value})) == "Кружка"


def test_a_missing_translation_is_only_one_where_english_has_text() -> None:
    assert translations_missing(_item(name_ru="Кружка"), "name") == {"name_de": "de"}
    no_description = CatalogueItem(name="Mug", name_ru="Кружка", name_de="Tasse", cost_points=1)
    assert translations_missing(no_description, "name", "description") == {}
    assert translations_missing(_item(), "description") == {"description_ru": "ru", "description_de": "de"}


@pytest.mark.django_db
def test_a_model_error_about_a_field_the_form_does_not_show_goes_on_the_form() -> None:
    plan = Plan.objects.create(code="team", name="Team", price_cents=1, stripe_price_id="price_t", is_active=False)
    form_class = modelform_factory(Plan, form=ModelErrorsForm, fields=["is_active"])
    form = form_class({"is_active": "on"}, instance=plan)
    assert not form.is_valid()
    assert form.errors[NON_FIELD_ERRORS] == [
        "Name in Russian: Needed in Russian: practices read the plan's name on their Billing page while it is "
        "offered or theirs.",
        "Name in German: Needed in German: practices read the plan's name on their Billing page while it is "
        "offered or theirs.",
    ]
    shown = modelform_factory(Plan, form=ModelErrorsForm, fields=["is_active", "name_ru", "name_de"])
    assert shown({"is_active": "on", "name_ru": "Команда", "name_de": "Team"}, instance=plan).is_valid()
