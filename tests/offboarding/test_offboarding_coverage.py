"""Every table that names a practice is in its archive and has a decided fate when the practice
is deleted: a new model with a foreign key to Practice fails here until offboarding knows it."""

from __future__ import annotations

from offboarding.services.deletion import KEPT_ON_DELETE, REMOVED_ON_DELETE
from offboarding.services.export import shared_querysets
from tenants.models import Practice


def _naming_the_practice() -> set[str]:
    return {
        related.related_model._meta.label_lower
        for related in Practice._meta.get_fields(include_hidden=True)  # related_name="+" ones too
        if related.auto_created and not related.concrete and (related.one_to_many or related.one_to_one)
    }


def test_every_table_naming_a_practice_is_removed_or_kept_on_deletion() -> None:
    assert not REMOVED_ON_DELETE & KEPT_ON_DELETE
    assert _naming_the_practice() == REMOVED_ON_DELETE | KEPT_ON_DELETE


def test_every_table_naming_a_practice_is_exported(db: None) -> None:
    exported = set(shared_querysets(Practice(pk=0, schema_name="x")))
    assert _naming_the_practice() - {"offboarding.practiceoperation"} <= exported
