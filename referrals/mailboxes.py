"""One mailbox, many spellings: providers that ignore dots and `+tags` deliver
`J.Doe+x@gmail.com` to `jdoe@gmail.com`. Used to spot self-referrals and duplicate accounts."""

from __future__ import annotations

from functools import cache

import disposable_email_domains
from django.db.models import CharField, F, Func, QuerySet, Value
from django.db.models.functions import Lower

from tenants.models import User

# Domains that share one mailbox namespace, mapped to one canonical domain.
DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}
# Providers that ignore dots in the local part.
DOTS_IGNORED = frozenset({"gmail.com"})
# Providers that deliver `name+tag@` to `name@`.
PLUS_TAGS_IGNORED = frozenset(
    {"gmail.com", "outlook.com", "hotmail.com", "live.com", "icloud.com", "me.com", "fastmail.com", "proton.me",
     "protonmail.com", "pm.me", "yandex.ru", "ya.ru"}
)  # fmt: skip


def mailbox_canonical(email: str) -> str:
    local, _, domain = email.strip().lower().rpartition("@")
    domain = DOMAIN_ALIASES.get(domain, domain)
    if domain in PLUS_TAGS_IGNORED:
        local = local.split("+", 1)[0]
    if domain in DOTS_IGNORED:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def _sql_part(expression: object, separator: str, index: int) -> Func:
    return Func(expression, Value(separator), Value(index), function="split_part", output_field=CharField())


def users_with_mailbox(email: str) -> QuerySet[User]:
    """Users whose email is another spelling of the same mailbox as `email` (including the exact
    one). Exact-domain candidates only, so the scan stays within one domain's users."""
    canonical = mailbox_canonical(email)
    local, _, domain = canonical.rpartition("@")
    domains = [domain, *[alias for alias, target in DOMAIN_ALIASES.items() if target == domain]]
    local_expression: object = _sql_part(Lower("email"), "@", 1)
    if domain in PLUS_TAGS_IGNORED:
        local_expression = _sql_part(local_expression, "+", 1)
    if domain in DOTS_IGNORED:
        local_expression = Func(local_expression, Value("."), Value(""), function="replace", output_field=CharField())
    return (
        User.objects.annotate(mailbox_domain=_sql_part(Lower("email"), "@", 2), mailbox_local=local_expression)
        .filter(mailbox_domain__in=domains, mailbox_local=local)
        .exclude(email="")
        .order_by(F("id"))
    )


@cache
def disposable_domains() -> frozenset[str]:
    """Throw-away mail domains: the maintained `disposable-email-domains` list (upgrading the
    package updates it), less the domains that list itself allows. Signups from them are flagged
    for review, not refused."""
    blocked = {domain.strip().lower() for domain in disposable_email_domains.blocklist}
    allowed = {domain.strip().lower() for domain in disposable_email_domains.allowlist}
    return frozenset(blocked - allowed)


def is_disposable(email: str) -> bool:
    domain = email.strip().lower().rpartition("@")[2]
    parts = domain.split(".")
    # Subdomains of a disposable domain are disposable too (x.mailinator.com).
    return any(".".join(parts[index:]) in disposable_domains() for index in range(len(parts) - 1))
