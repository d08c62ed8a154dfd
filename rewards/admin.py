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
from rewards import services
from rewards.models import ReferralProgram, Reward, RewardAction


@admin.register(ReferralProgram)
class ReferralProgramAdmin(admin.ModelAdmin):
    """The newest active program applies. A shorter hold applies at once to rewards already
    waiting (services.rewards_hold_shorten); a longer one only to rewards earned afterwards."""

    list_display = (
        "name",
        "reward",
        "hold_days",
        "yearly_cap_per_referrer",
        "is_active",
        "created_at",
    )

    @admin.display(description=_("reward"), ordering="reward_cents")
    def reward(self, program: ReferralProgram) -> str:
        return money(program.reward_cents, program.currency)

    def save_model(self, request: HttpRequest, obj: ReferralProgram, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change or {"hold_days", "is_active"} & set(form.changed_data):
            shortened = services.rewards_hold_shorten(actor=request.user)  # type: ignore[arg-type]
            if shortened:
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d waiting reward is due sooner under the new hold.",
                        "%(count)d waiting rewards are due sooner under the new hold.",
                        shortened,
                    )
                    % {"count": shortened},
                )


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
        "status",
        "hold_until",
        "reason",
    )
    list_filter = ("status",)
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
