"""Reward-program figures (issue 11), standalone: `.venv/bin/python bench/programs.py`.

1. Webhook to ledger with 20 active rules in 3 programs vs the single default rule, in the
   same run: a signed `invoice.paid` of a referred practice through the real webhook view
   (Django's test client), its processing (`stripe_event_process`: payment, hand-off, the
   program's rules) and the credit of the reward it makes (the Stripe stand-in, in process,
   over HTTP), until the ledger entry is written. The two configurations alternate event by
   event (A B B A ...) on the same data; the ratio (throughput with 20 rules / with one) is
   reported from the median wall time and from the mean CPU time per event, goal >= 0.9. Both pay the same thing: $50 to the
   referrer per first payment; with 20 rules the referrer's program (the default, or a
   partner program through an override for half of the referrers) has 7 rules to weigh (tiers
   with higher thresholds, other triggers) and the third program serves other referrers.
2. The revenue-share statement of 1,000 affiliates x 12 months of invoices (one ledger entry
   per invoice, refunds on one in ten, a payout every quarter; bulk inserts):
   `affiliate_statements` for the 12 months, median of --runs, goal < 1 s; and the staff page
   and CSV through the test client.

Prints wall and CPU time (time.process_time, this process; the stand-in runs in it too) and
the load average before and after: the machine is shared. Uses its own data folder (embedded
PostgreSQL and Redis), never a dev or test database; start from an empty folder (the default
program is the bench's), and stop them afterwards:
    DENTALTAP_DATA_DIR=/tmp/dentaltap-programs-bench .venv/bin/python -m dentaltap.devstack stop
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # run as a script: the project first, not bench/

from bench import stack  # noqa: E402

ROOT = stack.PROJECT_DIR
DATA_DIR = os.environ.get("DENTALTAP_DATA_DIR", "/tmp/dentaltap-programs-bench")  # noqa: S108 - a scratch stack
STRIPE_PORT = int(os.environ.get("DENTALTAP_BENCH_STRIPE_PORT", "12141"))
SECRET = "whsec_bench_programs"  # noqa: S105 - the bench's own signing secret
stack.stack_start(
    DATA_DIR,
    environ={
        "STRIPE_WEBHOOK_SECRETS": SECRET,
        "STRIPE_API_BASE": f"http://127.0.0.1:{STRIPE_PORT}",
        "DJANGO_LOG_LEVEL": "ERROR",
    },
)

import logging  # noqa: E402

for name in ("tenants", "onboarding", "billing", "rewards", "referrals", "django.request", "celery"):
    logging.getLogger(name).setLevel(logging.ERROR)

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from billing.models import LedgerEntry, Payment, Plan, PracticeAccount, StripeEvent  # noqa: E402
from billing.services import stripe_customer_ensure, stripe_event_process  # noqa: E402
from billing.standin import StandinState, serve, sign  # noqa: E402
from referrals.models import Eligibility, Referral, ReferralSource  # noqa: E402
from rewards import crediting, statements  # noqa: E402
from rewards.models import (  # noqa: E402
    AffiliateEntry,
    AffiliateEntryKind,
    PayoutMethod,
    ProgramOverride,
    ReferralProgram,
    Reward,
    RewardRule,
    RewardStatus,
)
from rewards.programs import program_default_ensure  # noqa: E402
from tenants.models import JoinedVia, Membership, Practice, Role, User  # noqa: E402

RUN = str(int(time.time()))
OBJECTS = json.loads((ROOT / "tests" / "fixtures" / "stripe" / "objects.json").read_text())
FLAT_50 = {"trigger": "first_payment", "recipient": "referrer", "structure": "flat", "amount_cents": 5000}


def practices_seed(prefix: str, count: int) -> tuple[list[User], list[Practice]]:
    """Owners with their own practice, public rows only (bulk inserts, no schemas)."""
    users = User.objects.bulk_create(
        (User(email=f"{prefix}{n}-{RUN}@bench.example", full_name=f"Dr. {prefix} {n}") for n in range(count)),
        batch_size=5000,
    )
    practices = Practice.objects.bulk_create(
        (
            Practice(name=f"{prefix} {n}", slug=f"{prefix}{n}-{RUN}", schema_name=f"p_{prefix}{n}_{RUN}")
            for n in range(count)
        ),
        batch_size=5000,
    )
    Membership.objects.bulk_create(
        (
            Membership(user=user, practice=practice, role=Role.OWNER, joined_via=JoinedVia.CREATED_PRACTICE)
            for user, practice in zip(users, practices, strict=True)
        ),
        batch_size=5000,
    )
    return users, practices


# --------------------------------------------------------------------------- 1. webhook to ledger


class Programs:
    """The two configurations on the same rows: `single` (the default program, one rule) and
    `twenty` (20 active rules in 3 programs)."""

    def __init__(self, overridden: list[User], others: list[User]) -> None:
        program_default_ensure()
        self.default = ReferralProgram.objects.get(is_default=True)
        self.default.rules.update(hold_days=0, cap_count=None)
        start = timezone.now() - datetime.timedelta(days=30)
        self.parked = ReferralProgram.objects.create(name="parked", is_active=False, starts_at=start)
        self.partner = ReferralProgram.objects.create(name="Dental supplier", starts_at=start)
        self.affiliates = ReferralProgram.objects.create(name="Affiliates", starts_at=start)
        self.extras = [rule.pk for rule in _weighed_rules(self.default)]
        RewardRule.objects.create(program=self.partner, name="$50", hold_days=0, tier_group="base", **FLAT_50)
        _weighed_rules(self.partner)
        for n, bp in enumerate((4000, 3000, 2000)):
            RewardRule.objects.create(
                program=self.affiliates, name=f"{bp / 100:g}%", trigger="paid_invoice", structure="percent",
                basis_points=bp, duration="months", duration_months=12, payout=PayoutMethod.CASH,
                condition="at_least_paid" if n else "none", threshold=[None, 20, 50][n], tier_group="share",
            )  # fmt: skip
        for trigger in ("signup", "activation", "first_payment"):
            RewardRule.objects.create(program=self.affiliates, name=trigger, trigger=trigger, amount_cents=1000)
        ProgramOverride.objects.bulk_create(
            [ProgramOverride(referrer=user, program=self.partner) for user in overridden]
            + [ProgramOverride(referrer=user, program=self.affiliates) for user in others]
        )
        ours = [self.default.pk, self.partner.pk, self.affiliates.pk]
        active = RewardRule.objects.filter(program__in=ours, is_active=True)
        self.use("twenty")
        assert active.count() == 20, active.count()

    def use(self, configuration: str) -> None:
        twenty = configuration == "twenty"
        RewardRule.objects.filter(pk__in=self.extras).update(program=self.default if twenty else self.parked)
        ReferralProgram.objects.filter(pk__in=[self.partner.pk, self.affiliates.pk]).update(is_active=twenty)


def _weighed_rules(program: ReferralProgram) -> list[RewardRule]:
    """Six rules the first payment of a young referrer weighs and does not pay: higher tiers of
    the base group, a points tier, a percentage from the 100th paid referral, other triggers."""
    if not program.rules.filter(tier_group="base").exists():
        program.rules.update(tier_group="base")
    rules = [
        RewardRule(program=program, name="tier 50", condition="at_least_paid", threshold=50, tier_group="base",
                   hold_days=0, **{**FLAT_50, "amount_cents": 10000}),
        RewardRule(program=program, name="tier 100", condition="at_least_paid", threshold=100, tier_group="base",
                   hold_days=0, **{**FLAT_50, "amount_cents": 15000}),
        RewardRule(program=program, name="1000th", condition="nth_paid", threshold=1000, structure="points",
                   points=500, trigger="first_payment"),
        RewardRule(program=program, name="10% from 100", trigger="paid_invoice", structure="percent", basis_points=1000,
                   duration="months", duration_months=12, condition="at_least_paid", threshold=100),
        RewardRule(program=program, name="signup", trigger="signup", recipient="referred", amount_cents=1000),
        RewardRule(program=program, name="activation", trigger="activation", structure="points", points=200),
    ]  # fmt: skip
    return RewardRule.objects.bulk_create(rules)


def _invoice_event(customer: str, invoice_id: str) -> str:
    invoice = copy.deepcopy(OBJECTS["invoice"])
    now = int(time.time())
    invoice.update(
        id=invoice_id, customer=customer, amount_paid=9900, amount_due=9900, status="paid", currency="usd",
        livemode=False, billing_reason="subscription_create", charge=f"ch_{invoice_id}",
        status_transitions={"paid_at": now, "finalized_at": now},
    )  # fmt: skip
    envelope = copy.deepcopy(OBJECTS["event"])
    envelope.update(
        id=f"evt_{invoice_id}", type="invoice.paid", created=now, livemode=False, api_version="2025-06-30.basil",
        data={"object": invoice},
    )  # fmt: skip
    return json.dumps(envelope)


def _one_event(client: Client, customer: str, invoice_id: str) -> None:
    body = _invoice_event(customer, invoice_id)
    response = client.post(
        "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body, SECRET)
    )
    assert response.status_code == 200, response.content
    stripe_event_process(
        event_pk=StripeEvent.objects.values_list("pk", flat=True).get(stripe_event_id=f"evt_{invoice_id}")
    )
    for pk in Reward.objects.filter(qualifying_payment__stripe_invoice_id=invoice_id).values_list("pk", flat=True):
        crediting.reward_credit(reward_pk=pk)


def bench_webhook(pairs: int, per_block: int, referrers_count: int) -> None:
    serve("127.0.0.1", STRIPE_PORT, StandinState())
    referrers, homes = practices_seed("ref", referrers_count)
    others, _ = practices_seed("aff", 10)
    newcomers, practices = practices_seed("new", (2 * pairs + 1) * per_block)
    freemium = Plan.objects.get(code="freemium")
    PracticeAccount.objects.bulk_create(
        [PracticeAccount(practice=practice, plan=freemium) for practice in homes]
        + [
            PracticeAccount(practice=practice, plan=freemium, stripe_customer_id=f"cus_{practice.pk}_{RUN}")
            for practice in practices
        ],
        batch_size=5000,
    )
    Referral.objects.bulk_create(
        (
            Referral(referrer=referrers[n % len(referrers)], referred_user=user, referred_practice=practice,
                     source=ReferralSource.LINK, eligibility=Eligibility.ELIGIBLE)
            for n, (user, practice) in enumerate(zip(newcomers, practices, strict=True))
        ),
        batch_size=5000,
    )  # fmt: skip
    for practice in homes:  # each referrer's Stripe customer exists before the clock starts
        stripe_customer_ensure(practice=practice)
    programs = Programs(overridden=referrers[::2], others=others)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client = Client(HTTP_HOST="dentaltap.localhost")
    queue = iter(practices)
    timings: dict[str, list[tuple[float, float]]] = {"single": [], "twenty": []}

    def one(configuration: str) -> tuple[float, float]:
        programs.use(configuration)  # two UPDATEs, outside the clock
        practice = next(queue)
        wall, cpu = time.perf_counter(), time.process_time()
        _one_event(client, f"cus_{practice.pk}_{RUN}", f"in_{practice.pk}_{RUN}")
        return time.perf_counter() - wall, time.process_time() - cpu

    print(f"webhook to ledger: load average before {stack.load_average()}")
    for _ in range(per_block):  # warm-up (caches, connections), not counted
        one("twenty")
    # Event by event, A B B A: whatever else loads the machine lands on both alike.
    for number in range(2 * pairs * per_block):
        configuration = ("single", "twenty", "twenty", "single")[number % 4]
        timings[configuration].append(one(configuration))
    credited = Reward.objects.filter(status=RewardStatus.CREDITED).count()
    events = (2 * pairs + 1) * per_block
    assert credited == events == LedgerEntry.objects.count() == Payment.objects.count(), (credited, events)
    medians = {}
    for configuration, measured in timings.items():
        walls = sorted(wall for wall, _cpu in measured)
        cpus = [cpu for _wall, cpu in measured]
        medians[configuration] = (statistics.median(walls), statistics.mean(cpus))
        print(
            f"  {configuration:>6}: {len(measured)} events, median {statistics.median(walls) * 1000:.1f} ms "
            f"(p90 {walls[int(len(walls) * 0.9)] * 1000:.1f} ms) = {1 / statistics.median(walls):.1f} events/s; "
            f"CPU {statistics.mean(cpus) * 1000:.1f} ms/event (this process)"
        )
    wall_ratio = medians["single"][0] / medians["twenty"][0]
    cpu_ratio = medians["single"][1] / medians["twenty"][1]
    print(
        f"  ratio 20 rules / 1 rule (throughput): {wall_ratio:.3f} by median wall time, {cpu_ratio:.3f} by mean CPU "
        f"time, goal >= 0.9; one reward, one ledger entry and one Stripe write per event ({credited} credited)"
    )
    print(f"  load average after {stack.load_average()}")


# --------------------------------------------------------------------------- 2. the statement


def bench_statement(affiliates_count: int, months: int, runs: int) -> None:
    started = time.perf_counter()
    first_month = (timezone.now().date().replace(day=1) - datetime.timedelta(days=31 * (months - 1))).replace(day=1)
    calendar = statements.months_from(first_month, months)
    affiliates, homes = practices_seed("stm", affiliates_count)
    newcomers, practices = practices_seed("stmnew", affiliates_count)
    referrals = Referral.objects.bulk_create(
        (
            Referral(referrer=affiliate, referred_user=user, referred_practice=practice, source=ReferralSource.LINK,
                     eligibility=Eligibility.ELIGIBLE)
            for affiliate, user, practice in zip(affiliates, newcomers, practices, strict=True)
        ),
        batch_size=5000,
    )  # fmt: skip
    program = ReferralProgram.objects.create(name="Revenue share (bench)", starts_at=timezone.now())
    rule = RewardRule.objects.create(
        program=program, name="40%", trigger="paid_invoice", structure="percent", basis_points=4000,
        duration="forever", payout=PayoutMethod.CASH,
    )  # fmt: skip
    rewards = Reward.objects.bulk_create(
        (
            Reward(referral=referral, referrer=referral.referrer, recipient_user=referral.referrer,
                   beneficiary_practice=home, program=program, rule=rule, occurrence=f"month:{month:%Y-%m}",
                   amount_cents=3960, basis_points=4000, currency="usd", payout=PayoutMethod.CASH,
                   status=RewardStatus.CREDITED, hold_until=_noon(month))
            for referral, home in zip(referrals, homes, strict=True)
            for month in calendar
        ),
        batch_size=5000,
    )  # fmt: skip
    entries = []
    for number, reward in enumerate(rewards):
        month = calendar[number % months]
        entries.append(AffiliateEntry(affiliate_id=reward.referrer_id, kind=AffiliateEntryKind.EARNED,
                                      amount_cents=3960, reward=reward, occurred_at=_noon(month, 15)))  # fmt: skip
        if number % 10 == 3:
            entries.append(AffiliateEntry(affiliate_id=reward.referrer_id, kind=AffiliateEntryKind.REVERSED,
                                          amount_cents=-1980, reward=reward, key="to-1980",
                                          occurred_at=_noon(month, 20)))  # fmt: skip
        if number % months in (2, 5, 8, 11):
            entries.append(AffiliateEntry(affiliate_id=reward.referrer_id, kind=AffiliateEntryKind.PAID_OUT,
                                          amount_cents=-9000, reference=f"SEPA-{number}",
                                          occurred_at=_noon(month, 28)))  # fmt: skip
    AffiliateEntry.objects.bulk_create(entries, batch_size=10000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"statement: seeded {affiliates_count:,} affiliates, {len(rewards):,} invoices' shares, "
        f"{AffiliateEntry.objects.count():,} ledger entries in {time.perf_counter() - started:.1f} s; "
        f"load average {stack.load_average()}"
    )
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        found = statements.affiliate_statements(first_month=first_month, months=months)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    assert len(found) >= affiliates_count, len(found)
    print(
        f"  affiliate_statements, {len(found):,} affiliates x {months} months: median {statistics.median(walls) * 1000:.0f} ms "
        f"(runs {min(walls) * 1000:.0f}-{max(walls) * 1000:.0f} ms), CPU {statistics.median(cpus) * 1000:.0f} ms, goal < 1 s"
    )
    staff = User.objects.create_superuser(f"staff-{RUN}@bench.example", "bench-Strong-99", full_name="Staff")
    client = Client(HTTP_HOST="dentaltap.localhost")
    client.force_login(staff)
    query = f"first_month={first_month:%Y-%m}&months={months}"
    for label, path in (
        ("staff page", f"/staff/affiliates/?{query}"),
        ("CSV", f"/staff/affiliates/statements.csv?{query}"),
    ):
        times = []
        for _ in range(max(runs // 2, 3)):
            wall = time.perf_counter()
            response = client.get(path)
            body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
            times.append(time.perf_counter() - wall)
            assert response.status_code == 200, response.status_code
        print(f"  {label}: median {statistics.median(times) * 1000:.0f} ms ({len(body) / 1024:.0f} KiB)")
    print(f"  load average after {stack.load_average()}")


def _noon(month: datetime.date, day: int = 1) -> datetime.datetime:
    return datetime.datetime.combine(month.replace(day=day), datetime.time(12), tzinfo=datetime.UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=6, help="events per configuration: pairs x per-block")
    parser.add_argument("--per-block", type=int, default=50, help="events per block")
    parser.add_argument("--referrers", type=int, default=40)
    parser.add_argument("--affiliates", type=int, default=1000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--only", choices=["webhook", "statement"])
    options = parser.parse_args()
    stack.database_migrate()
    print(f"DentalTap reward programs bench, {os.cpu_count()} CPUs, data in {DATA_DIR}")
    if options.only in (None, "webhook"):
        bench_webhook(options.pairs, options.per_block, options.referrers)
    if options.only in (None, "statement"):
        bench_statement(options.affiliates, options.months, options.runs)


if __name__ == "__main__":
    main()
