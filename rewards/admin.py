"""Staff admin of referral rewards: the program's terms, and fraud review of rewards (approve,
hold, reject, retry); every action is in the reward's log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from billing.admin import MoneyColumns
from dentaltap.errors import ApplicationError
from dentaltap.formatting import money
from dentaltap.forms import ModelErrorsForm
from dentaltap.translated import translations_complete_display, translations_filter
from rewards import programs, services
from rewards.models import (
    CatalogueItem,
    PartnerProgram,
    PointsEntry,
    ProgramOverride,
    Redemption,
    ReferralProgram,
    Reward,
    RewardAction,
    RewardRule,
)

PREVIEW_INVOICE_CENTS = 9900  # the preview's example invoice: $99, the Pro plan


# The rule's fields, its names in the three languages side by side (required while it is active).
RULE_FIELDS = (
    ("name", "name_ru", "name_de"),
    ("is_active", "trigger", "recipient"),
    ("structure", "amount_cents", "basis_points", "points", "payout"),
    ("duration", "duration_months", "hold_days"),
    ("cap_period", "cap_count", "cap_amount_cents"),
    ("condition", "threshold", "tier_group"),
    "preview",
)


class RewardRuleInline(admin.StackedInline):
    model = RewardRule
    form = ModelErrorsForm
    extra = 0
    fields = RULE_FIELDS
    readonly_fields = ("preview",)

    @admin.display(description=_("what it pays"))
    def preview(self, rule: RewardRule) -> str:
        return rule_preview_text(rule) if rule.pk else "—"


def rule_preview_text(rule: RewardRule, paid_cents: int = PREVIEW_INVOICE_CENTS) -> str:
    words = " ".join(preview.words for preview in programs.rule_preview(rule=rule, paid_cents=paid_cents))
    return f"{programs.rule_pays_in_words(rule, currency=rule.program.currency)} {words}"


def _hold_shortened_message(admin_view: admin.ModelAdmin, request: HttpRequest) -> None:
    shortened = services.rewards_hold_shorten(actor=request.user)  # type: ignore[arg-type]
    if shortened:
        admin_view.message_user(
            request,
            ngettext(
                "%(count)d waiting reward is due sooner under the new hold.",
                "%(count)d waiting rewards are due sooner under the new hold.",
                shortened,
            )
            % {"count": shortened},
        )


@admin.register(ReferralProgram)
class ReferralProgramAdmin(admin.ModelAdmin):
    """Programs and their rules. The default program running now applies to every referrer
    without an override. A shorter hold applies at once to rewards already waiting
    (services.rewards_hold_shorten); a longer one only to rewards earned afterwards."""

    list_display = ("name", "is_default", "is_active", "starts_at", "ends_at", "budget", "rule_count", "translated")
    list_filter = (translations_filter("name"),)
    form = ModelErrorsForm
    fields = (
        ("name", "name_ru", "name_de"),
        "currency",
        ("starts_at", "ends_at"),
        ("is_default", "is_active"),
        "budget_cents",
    )
    inlines = (RewardRuleInline,)
    translated = translations_complete_display("name")

    @admin.display(description=_("budget"))
    def budget(self, program: ReferralProgram) -> str:
        return money(program.budget_cents, program.currency) if program.budget_cents is not None else "—"

    @admin.display(description=_("rules"))
    def rule_count(self, program: ReferralProgram) -> int:
        return program.rules.count()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        _hold_shortened_message(self, request)


@admin.register(RewardRule)
class RewardRuleAdmin(admin.ModelAdmin):
    """One rule, with a preview of what it pays for a $99 invoice."""

    list_display = (
        "name",
        "program",
        "trigger",
        "recipient",
        "structure",
        "hold_days",
        "condition",
        "threshold",
        "translated",
    )
    list_filter = ("program", "trigger", "structure", translations_filter("name"))
    form = ModelErrorsForm
    fields = ("program", *RULE_FIELDS)
    readonly_fields = ("preview",)
    translated = translations_complete_display("name")

    @admin.display(description=_("what it pays"))
    def preview(self, rule: RewardRule) -> str:
        return rule_preview_text(rule) if rule.pk else "—"

    def save_model(self, request: HttpRequest, obj: RewardRule, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _hold_shortened_message(self, request)


@admin.register(ProgramOverride)
class ProgramOverrideAdmin(admin.ModelAdmin):
    list_display = ("referrer", "program", "note", "created_at")
    raw_id_fields = ("referrer",)


@admin.register(CatalogueItem)
class CatalogueItemAdmin(admin.ModelAdmin):
    list_display = ("name", "cost_points", "stock", "available_until", "is_active", "translated")
    list_filter = (translations_filter("name", "description"),)
    form = ModelErrorsForm
    fields = (
        ("name", "name_ru", "name_de"),
        ("description", "description_ru", "description_de"),
        ("cost_points", "stock"),
        ("available_until", "is_active"),
    )
    translated = translations_complete_display("name", "description")


@admin.register(Redemption)
class RedemptionAdmin(admin.ModelAdmin):
    """Staff hand out what was redeemed and mark it; a redemption is never edited otherwise."""

    list_display = ("created_at", "user", "item", "points", "fulfilled_at")
    readonly_fields = ("user", "item", "points", "idempotency_key", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(PointsEntry)
class PointsEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "points", "description")
    list_filter = ("kind",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in PointsEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RewardActionInline(admin.TabularInline):
    model = RewardAction
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "actor", "from_status", "to_status", "note")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Reward)
class RewardAdmin(MoneyColumns, admin.ModelAdmin):
    """Fraud review: staff approve, hold, reject or retry rewards; every action is logged."""

    list_display = (
        "created_at",
        "referrer",
        "beneficiary_practice",
        "amount",
        "recipient",
        "rule",
        "status",
        "hold_until",
        "reason",
    )
    list_filter = ("status", "program", "recipient")
    search_fields = ("referrer__email", "beneficiary_practice__name", "referral__referred_user__email")
    list_select_related = ("referrer", "beneficiary_practice")
    inlines = (RewardActionInline,)
    actions = ("approve", "hold", "reject", "retry")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Reward._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _review(self, request: HttpRequest, queryset: QuerySet[Reward], decision: str) -> None:
        done, refused = 0, []
        for reward in queryset:
            try:
                services.reward_review(reward_pk=reward.pk, decision=decision, actor=request.user)  # type: ignore[arg-type]
            except ApplicationError as error:
                refused.append(f"#{reward.pk}: {error.message}")
            else:
                self.log_change(request, reward, f"Staff decision: {decision} (was {reward.status}).")
                done += 1
        if done:
            text = ngettext("%(decision)s: %(count)d reward.", "%(decision)s: %(count)d rewards.", done)
            self.message_user(request, text % {"decision": decision, "count": done})
        for message in refused:
            self.message_user(request, message, level=messages.WARNING)

    @admin.action(description=_("Approve (release when the hold ends)"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Reward]) -> None:
        self._review(request, queryset, "approve")

    @admin.action(description=_("Hold for review"), permissions=["change"])
    def hold(self, request: HttpRequest, queryset: QuerySet[Reward]) -> None:
        self._review(request, queryset, "hold")

    @admin.action(description=_("Reject"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Reward]) -> None:
        self._review(request, queryset, "reject")

    @admin.action(description=_("Retry a failed credit"), permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Reward]) -> None:
        self._review(request, queryset, "retry")


@admin.register(PartnerProgram)
class PartnerProgramAdmin(admin.ModelAdmin):
    """Which program a partner's code-attributed practices earn under (else the default)."""

    list_display = ("partner", "program", "created_at")


from rewards import admin_affiliates  # noqa: E402, F401 - registers the affiliate ledger's admin
