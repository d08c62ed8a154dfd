"""Seed a large referral dataset for benchmarks: users, referral codes, referrals and link
visits, plus payments, rewards and ledger entries for the referred practices that pay.

    manage.py referrals_seed_analytics --referrals 100000 --visits 1000000

Everything is written by `INSERT ... SELECT generate_series(...)` in the public schema, so a
million rows take seconds. Practices are bare rows WITHOUT a schema (the figures never enter a
practice): only seed a throw-away database (bench/dashboard.py uses its own data folder), since
`migrate_schemas` would look for those schemas. The busiest referrer (printed at the end) gets
2% of the referrals and 5% of the visits."""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from rewards.services import program_current


class Command(BaseCommand):
    help = "Seed referrals, link visits, payments and rewards for the analytics benchmarks (throw-away databases)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--referrals", type=int, default=100_000)
        parser.add_argument("--visits", type=int, default=1_000_000)
        parser.add_argument("--referrers", type=int, default=0, help="Default: one per 50 referrals.")
        parser.add_argument("--paid-share", type=float, default=0.08, help="Referred practices that pay.")
        parser.add_argument(
            "--channel-share", type=float, default=0.15, help="Share of paying practices that came by referral."
        )
        parser.add_argument("--days", type=int, default=365, help="Spread the rows over this many past days.")

    def handle(self, *args: Any, **options: Any) -> None:
        referrals, visits = options["referrals"], options["visits"]
        if referrals < 1 or visits < 0:
            raise CommandError("--referrals must be at least 1 and --visits at least 0.")
        referrers = options["referrers"] or max(1, referrals // 50)
        paid = max(1, int(referrals * options["paid_share"]))
        unreferred = int(paid * (1 - options["channel_share"]) / max(options["channel_share"], 0.01))
        days = options["days"]
        tag = secrets.token_hex(3)
        program = program_current()
        rule = program.rules.filter(trigger="first_payment", structure="flat").order_by("pk").first()
        if rule is None:
            raise CommandError("The default program has no flat first-payment rule to seed rewards of.")
        started = time.perf_counter()
        params = {
            "tag": tag,
            "referrers": referrers,
            "referrals": referrals,
            "visits": visits,
            "paid": paid,
            "unreferred": unreferred,
            "days": days,
            "busiest_visits": max(1, visits // 20),
            "program": program.pk,
            "rule": rule.pk,
            "reward": rule.amount_cents,
        }
        with transaction.atomic(), connection.cursor() as cursor:
            connection.set_schema_to_public()  # type: ignore[attr-defined]
            for label, sql in STEPS:
                step_started = time.perf_counter()
                cursor.execute(sql, params)
                self.stdout.write(f"  {label}: {cursor.rowcount} rows in {time.perf_counter() - step_started:.1f}s")
            busiest = f"seed-{tag}-referrer-1@seed.example"
            cursor.execute("SELECT id, email FROM tenants_user WHERE email = %s", [busiest])
            busiest_id, busiest_email = cursor.fetchone()
        with connection.cursor() as cursor:
            for table in TABLES:
                # Fresh statistics for the planner, and the visibility map index-only scans need.
                cursor.execute(f"VACUUM ANALYZE {table}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {referrals} referrals, {visits} visits, {paid + unreferred} paying practices "
                f"in {time.perf_counter() - started:.1f}s. Busiest referrer: {busiest_email} (id {busiest_id})."
            )
        )


TABLES = (
    "tenants_user", "tenants_practice", "referrals_referralcode", "referrals_referral", "referrals_referralvisit",
    "billing_payment", "rewards_reward", "billing_ledgerentry",
)  # fmt: skip

# Row g of each series is deterministic given g, so the steps can join on it: referrer g owns
# code g; referral g brings user g; the first `paid` referrals bring paying practice g.
STEPS: list[tuple[str, str]] = [
    (
        "users (referrers)",
        """INSERT INTO tenants_user (password, email, full_name, is_superuser, is_active, is_staff, date_joined,
                                  language)
        SELECT '!', 'seed-' || %(tag)s || '-referrer-' || g || '@seed.example', 'Seed Referrer ' || g,
               false, true, false, now() - interval '400 days', ''
        FROM generate_series(1, %(referrers)s) AS g""",
    ),
    (
        "users (referred)",
        """INSERT INTO tenants_user (password, email, full_name, is_superuser, is_active, is_staff, date_joined,
                                  language)
        SELECT '!', 'seed-' || %(tag)s || '-new-' || g || '@seed.example', 'Seed Newcomer ' || g,
               false, true, false, now(), ''
        FROM generate_series(1, %(referrals)s) AS g""",
    ),
    (
        "referral codes",
        """INSERT INTO referrals_referralcode (user_id, code, created_at)
        SELECT u.id, 's' || %(tag)s || substr(md5(u.id::text), 1, 12), now() - interval '400 days'
        FROM tenants_user u WHERE u.email LIKE 'seed-' || %(tag)s || '-referrer-%%'""",
    ),
    (
        "practices (bare rows, no schema)",
        """INSERT INTO tenants_practice (schema_name, name, slug, created_at, time_zone)
        SELECT 'seed_' || %(tag)s || '_' || g, 'Seed practice ' || g, 'seed-' || %(tag)s || '-' || g, now(), 'UTC'
        FROM generate_series(1, %(paid)s + %(unreferred)s + 1) AS g""",
    ),
    (
        "referrals",
        """WITH referrer AS (
            SELECT row_number() OVER (ORDER BY u.id) AS n, u.id AS user_id, c.id AS code_id
            FROM tenants_user u JOIN referrals_referralcode c ON c.user_id = u.id
            WHERE u.email LIKE 'seed-' || %(tag)s || '-referrer-%%'
        ), newcomer AS (
            SELECT row_number() OVER (ORDER BY id) AS g, id AS user_id FROM tenants_user
            WHERE email LIKE 'seed-' || %(tag)s || '-new-%%'
        ), practice AS (
            SELECT row_number() OVER (ORDER BY id) AS g, id AS practice_id FROM tenants_practice
            WHERE schema_name LIKE 'seed\\_' || %(tag)s || '\\_%%'
        ), picked AS (
            SELECT g, user_id,
                   CASE WHEN g %% 50 = 0 THEN 1
                        ELSE 1 + floor(random() * %(referrers)s)::int END AS referrer_n,
                   random() AS luck
            FROM newcomer
        )
        INSERT INTO referrals_referral (referrer_id, referred_user_id, referred_practice_id, source, status,
            eligibility, eligibility_reason, eligibility_note, signup_ip, risk_level, risk_score, created_at)
        SELECT r.user_id, p.user_id, pr.practice_id, 'link', 'signed_up',
               CASE WHEN p.luck < 0.05 AND p.g > %(paid)s THEN 'ineligible'
                    WHEN p.luck < 0.10 AND p.g > %(paid)s THEN 'review' ELSE 'eligible' END,
               CASE WHEN p.luck < 0.05 AND p.g > %(paid)s THEN 'velocity_limit'
                    WHEN p.luck < 0.10 AND p.g > %(paid)s THEN 'disposable_email' ELSE '' END,
               '', ('10.' || (p.g %% 250) || '.' || (p.g / 250 %% 250) || '.1')::inet,
               CASE WHEN p.luck >= 0.05 AND p.luck < 0.10 AND p.g > %(paid)s THEN 'high' ELSE 'low' END,
               CASE WHEN p.luck >= 0.05 AND p.luck < 0.10 AND p.g > %(paid)s THEN 60 ELSE 0 END,
               now() - (random() * %(days)s) * interval '1 day'
        FROM picked p
        JOIN referrer r ON r.n = least(p.referrer_n, %(referrers)s)
        LEFT JOIN practice pr ON pr.g = p.g AND p.g <= %(paid)s""",
    ),
    (
        "link visits",
        """WITH code AS (
            SELECT row_number() OVER (ORDER BY c.id) AS n, c.id AS code_id
            FROM referrals_referralcode c WHERE c.code LIKE 's' || %(tag)s || '%%'
        )
        INSERT INTO referrals_referralvisit (referral_code_id, visited_at, referer, ip_address, user_agent,
            landing_path)
        SELECT code.code_id, now() - (random() * %(days)s) * interval '1 day', '',
               ('10.' || (g %% 250) || '.' || (g / 250 %% 250) || '.' || (g / 62500 %% 250))::inet,
               'seed', '/r/seed/'
        FROM (
            SELECT g, CASE WHEN g <= %(busiest_visits)s THEN 1
                           ELSE 1 + floor(random() * %(referrers)s)::int END AS n
            FROM generate_series(1, %(visits)s) AS g
        ) AS v JOIN code ON code.n = least(v.n, %(referrers)s)""",
    ),
    (
        "payments (monthly, referred and not)",
        """INSERT INTO billing_payment (stripe_invoice_id, practice_id, stripe_customer_id, stripe_charge_id,
            stripe_payment_intent_id, amount_cents, currency, livemode, paid_at, hosted_invoice_url, number,
            is_reversed, created_at)
        SELECT 'in_seed_' || %(tag)s || '_' || pr.id || '_' || m, pr.id, 'cus_seed_' || pr.id, '', '',
               CASE WHEN pr.id %% 3 = 0 THEN 9900 ELSE 4900 END, 'usd', false,
               coalesce(ref.created_at, now() - (%(days)s * interval '1 day') * (pr.id %% 97) / 97.0)
                   + (m * interval '30 days') + interval '2 days',
               '', '', random() < 0.03, now()
        FROM tenants_practice pr
        LEFT JOIN referrals_referral ref ON ref.referred_practice_id = pr.id
        CROSS JOIN generate_series(0, 5) AS m
        WHERE pr.schema_name LIKE 'seed\\_' || %(tag)s || '\\_%%'
          AND pr.schema_name <> 'seed_' || %(tag)s || '_' || (%(paid)s + %(unreferred)s + 1)
          AND coalesce(ref.created_at, now() - (%(days)s * interval '1 day') * (pr.id %% 97) / 97.0)
                + (m * interval '30 days') + interval '2 days' < now()""",
    ),
    (
        "rewards (first payment of each eligible referred practice)",
        """WITH first_payment AS (
            SELECT DISTINCT ON (practice_id) practice_id, id, paid_at, is_reversed FROM billing_payment
            WHERE stripe_invoice_id LIKE 'in\\_seed\\_' || %(tag)s || '\\_%%' ORDER BY practice_id, paid_at
        ), home AS (
            SELECT id FROM tenants_practice
            WHERE schema_name = 'seed_' || %(tag)s || '_' || (%(paid)s + %(unreferred)s + 1)
        )
        INSERT INTO rewards_reward (referral_id, referrer_id, recipient, recipient_user_id, beneficiary_practice_id,
            qualifying_payment_id, program_id, rule_id, occurrence, amount_cents, points, basis_points, currency,
            status, reason, hold_until, stripe_balance_transaction_id, attempts, last_error, created_at, credited_at,
            updated_at)
        SELECT r.id, r.referrer_id, 'referrer', r.referrer_id, home.id, fp.id, %(program)s, %(rule)s, 'once',
               %(reward)s, 0, 0, 'usd',
               CASE WHEN fp.is_reversed THEN 'cancelled'
                    WHEN fp.paid_at > now() - interval '14 days' THEN 'pending'
                    WHEN r.id %% 20 = 0 THEN 'clawed_back' ELSE 'credited' END,
               CASE WHEN fp.is_reversed THEN 'The qualifying payment was refunded or disputed.' ELSE '' END,
               fp.paid_at + interval '14 days', '', 0, '', fp.paid_at,
               CASE WHEN NOT fp.is_reversed AND fp.paid_at <= now() - interval '14 days'
                    THEN fp.paid_at + interval '14 days' END,
               now()
        FROM referrals_referral r JOIN first_payment fp ON fp.practice_id = r.referred_practice_id
        CROSS JOIN home
        WHERE r.eligibility = 'eligible'""",
    ),
    (
        # What rewards records when billing hands it a payment (rewards/conversions.py).
        "referral conversions (first standing payment)",
        """UPDATE referrals_referral r
        SET converted_at = fp.paid_at, first_paid_amount_cents = fp.amount_cents
        FROM (
            SELECT DISTINCT ON (practice_id) practice_id, paid_at, amount_cents FROM billing_payment
            WHERE NOT is_reversed AND stripe_invoice_id LIKE 'in\\_seed\\_' || %(tag)s || '\\_%%'
            ORDER BY practice_id, paid_at, id
        ) AS fp
        WHERE r.referred_practice_id = fp.practice_id""",
    ),
    (
        "ledger (credits)",
        """INSERT INTO billing_ledgerentry (practice_id, reward_id, kind, amount_cents, currency, description,
            stripe_balance_transaction_id, created_at)
        SELECT beneficiary_practice_id, id, 'reward_credit', amount_cents, 'usd', 'Referral reward #' || id, '',
               credited_at
        FROM rewards_reward WHERE credited_at IS NOT NULL AND qualifying_payment_id IN (
            SELECT id FROM billing_payment WHERE stripe_invoice_id LIKE 'in\\_seed\\_' || %(tag)s || '\\_%%')""",
    ),
    (
        "ledger (clawbacks)",
        """INSERT INTO billing_ledgerentry (practice_id, reward_id, kind, amount_cents, currency, description,
            stripe_balance_transaction_id, created_at)
        SELECT beneficiary_practice_id, id, 'reward_clawback', -amount_cents, 'usd',
               'Referral reward #' || id || ' reversed', '', credited_at + interval '10 days'
        FROM rewards_reward WHERE status = 'clawed_back' AND qualifying_payment_id IN (
            SELECT id FROM billing_payment WHERE stripe_invoice_id LIKE 'in\\_seed\\_' || %(tag)s || '\\_%%')""",
    ),
]
