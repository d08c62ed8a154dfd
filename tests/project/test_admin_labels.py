"""Every label on a staff admin form starts with a capital letter, in each of the three languages
(an explicit lowercase `label=` is shown as it is; Django capitalises only labels it makes from
a model field's verbose name)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import RequestFactory
from django.utils import translation

from tenants.models import Practice
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_admin_form_labels_start_with_a_capital(public_tenant: Practice) -> None:
    staff = UserFactory(email="labels@dentaltap.example", is_staff=True, is_superuser=True)
    request = RequestFactory().get("/admin/")
    request.user = staff
    lowercase = []
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_add_permission(request):
            continue
        form = model_admin.get_form(request)
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                for name, field in form.base_fields.items():
                    label = str(field.label or "")
                    if label[:1].isalpha() and not label[:1].isupper():
                        lowercase.append((language, model._meta.label, name, label))
    assert lowercase == []
