"""Referral rewards now belong to the `rewards` app (its 0001 takes them over in Django's model
state). State only, no SQL: the tables and rows stay as they are, and the ledger's foreign key
to rewards keeps pointing at the same table."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0005_payment_card'),
        ('rewards', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='ledgerentry',
                    name='reward',
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name='ledger_entries',
                        to='rewards.reward',
                    ),
                ),
                migrations.DeleteModel(name='RewardAction'),
                migrations.DeleteModel(name='Reward'),
                migrations.DeleteModel(name='ReferralProgram'),
            ],
        ),
    ]
