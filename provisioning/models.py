"""Public-schema bookkeeping for practice schemas: the spare pool and the recipes."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SpareSchema(models.Model):
    """A fully migrated, empty practice schema that a signup may claim (rename to its own).

    The row and its schema are created in one transaction and removed in one (the claim), so a
    committed row always names an existing schema, and a spare-named schema without a row is
    an orphan that the refill drops."""

    schema_name = models.CharField(_("schema"), max_length=63, unique=True)
    migrations_digest = models.CharField(_("migrations digest"), max_length=32)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("spare schema")
        verbose_name_plural = _("spare schemas")

    def __str__(self) -> str:
        return self.schema_name


class SchemaRecipe(models.Model):
    """The SQL that builds a fresh practice schema at one migration state (recipe.py)."""

    key = models.CharField(_("key"), max_length=64, unique=True, help_text=_("migration state and recipe format"))
    migrations_digest = models.CharField(_("migrations digest"), max_length=32)
    statements = models.TextField(_("statements"))
    migrations = models.JSONField(_("migrations, in the order applied"))
    tables = models.JSONField(_("tables"))
    structure_digest = models.CharField(_("structure digest"), max_length=32)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("schema recipe")
        verbose_name_plural = _("schema recipes")

    def __str__(self) -> str:
        return self.key
