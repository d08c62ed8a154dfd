"""Referral rewards move from `billing` to this app with their rows: this migration only tells
Django's model state that the existing tables (still named billing_*) now belong here; it runs
no SQL. 0002 renames the tables. Ids are kept, so the Stripe idempotency keys built from them
(`dentaltap-reward-<id>-credit`) and the ledger's one-credit-per-reward rule still hold: no
reward can be credited twice because of the move."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('billing', '0005_payment_card'),
        ('referrals', '0004_referral_risk_level'),
        ('tenants', '0004_access_change_setting_changed'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='ReferralProgram',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(default='Two-sided credit', max_length=80)),
                        ('reward_cents', models.PositiveIntegerField(default=5000, verbose_name='reward (cents)')),
                        ('currency', models.CharField(default='usd', max_length=3)),
                        ('hold_days', models.PositiveSmallIntegerField(default=14, verbose_name='hold period (days)')),
                        ('yearly_cap_per_referrer', models.PositiveIntegerField(default=20, verbose_name='rewards per referrer per year')),
                        ('is_active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'verbose_name': 'referral program',
                        'verbose_name_plural': 'referral program',
                        'ordering': ['-created_at'],
                        'db_table': 'billing_referralprogram',
                    },
                ),
                migrations.CreateModel(
                    name='Reward',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('amount_cents', models.PositiveIntegerField()),
                        ('currency', models.CharField(max_length=3)),
                        ('status', models.CharField(choices=[('pending', 'Pending (hold period)'), ('on_hold', 'On hold (staff review)'), ('crediting', 'Being credited'), ('credited', 'Credited'), ('cancelled', 'Cancelled'), ('rejected', 'Rejected by staff'), ('clawed_back', 'Clawed back'), ('failed', 'Credit failed')], default='pending', max_length=20)),
                        ('reason', models.CharField(blank=True, max_length=300, verbose_name='reason')),
                        ('hold_until', models.DateTimeField()),
                        ('stripe_balance_transaction_id', models.CharField(blank=True, max_length=100)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('last_error', models.CharField(blank=True, max_length=500)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('credited_at', models.DateTimeField(blank=True, null=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('beneficiary_practice', models.ForeignKey(help_text='Whose Stripe balance it lowers.', on_delete=django.db.models.deletion.PROTECT, related_name='rewards', to='tenants.practice')),
                        ('program', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='rewards', to='rewards.referralprogram')),
                        ('qualifying_payment', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='rewards', to='billing.payment')),
                        ('referral', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='reward', to='referrals.referral')),
                        ('referrer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='rewards', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'reward',
                        'verbose_name_plural': 'rewards',
                        'ordering': ['-created_at'],
                        'db_table': 'billing_reward',
                        'indexes': [
                            models.Index(condition=models.Q(('status', 'pending')), fields=['hold_until'], name='reward_due_idx'),
                            models.Index(fields=['referrer', 'created_at'], name='reward_referrer_idx'),
                        ],
                        'constraints': [
                            models.CheckConstraint(condition=models.Q(('status__in', ['pending', 'on_hold', 'crediting', 'credited', 'cancelled', 'rejected', 'clawed_back', 'failed'])), name='reward_status_known'),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name='RewardAction',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('from_status', models.CharField(blank=True, max_length=20)),
                        ('to_status', models.CharField(max_length=20)),
                        ('note', models.CharField(blank=True, max_length=300)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                        ('reward', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='actions', to='rewards.reward')),
                    ],
                    options={
                        'ordering': ['created_at', 'id'],
                        'db_table': 'billing_rewardaction',
                    },
                ),
            ],
        ),
    ]
