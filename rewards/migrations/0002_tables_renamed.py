"""The reward tables take this app's names (billing_reward -> rewards_reward, ...): an ALTER
TABLE ... RENAME each, rows, ids, indexes and constraints unchanged. The admin's content types
follow, so staff permissions and the admin history of rewards are kept."""

from django.db import migrations

MODELS = ("referralprogram", "reward", "rewardaction")


def content_types_move(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = set(ContentType.objects.filter(app_label="rewards").values_list("model", flat=True))
    ContentType.objects.filter(app_label="billing", model__in=set(MODELS) - taken).update(app_label="rewards")


def content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = set(ContentType.objects.filter(app_label="billing").values_list("model", flat=True))
    ContentType.objects.filter(app_label="rewards", model__in=set(MODELS) - taken).update(app_label="billing")


class Migration(migrations.Migration):

    dependencies = [
        ('rewards', '0001_initial'),
        ('billing', '0006_rewards_move_to_rewards_app'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.AlterModelTable(name='referralprogram', table=None),
        migrations.AlterModelTable(name='reward', table=None),
        migrations.AlterModelTable(name='rewardaction', table=None),
        migrations.RunPython(content_types_move, content_types_back),
    ]
