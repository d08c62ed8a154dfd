"""The Russian default messages in the glossary's words (locale/GLOSSARY.md): a practice is
«клиника», as on every page and in every email. Only rows still holding the first defaults are
changed: a text staff edited in the admin stays theirs. Every channel keeps an en, de and ru row."""

from django.db import migrations

OLD_RU = {
    "email": (
        "DentalTap для вашей клиники",
        "Здравствуйте!\n\nЯ веду практику в DentalTap: пациенты, расписание и команда в одном месте. "
        "Своя практика — бесплатно для начала. Регистрация: {link}\n",
    ),
    "whatsapp": ("", "Я веду практику в DentalTap: пациенты, расписание и команда в одном месте. {link}"),
    "telegram": ("", "Я веду практику в DentalTap: пациенты, расписание и команда в одном месте. {link}"),
    "linkedin": ("", "Ведёте стоматологическую практику? DentalTap: пациенты, расписание и команда. {link}"),
    "x": ("", "Моя стоматология работает в DentalTap. Начните бесплатно: {link}"),
    "facebook": ("", "Коллеги, DentalTap: пациенты, расписание и команда практики в одном месте. {link}"),
}
NEW_RU = {
    "email": (
        "DentalTap для вашей клиники",
        "Здравствуйте!\n\nМоя клиника работает в DentalTap: пациенты, расписание и команда в одном месте. "
        "Вы получите свою клинику в DentalTap, для начала бесплатно. Регистрация: {link}\n",
    ),
    "whatsapp": (
        "",
        "Моя клиника работает в DentalTap: пациенты, расписание и команда в одном месте. Начните бесплатно: {link}",
    ),
    "telegram": (
        "",
        "Моя клиника работает в DentalTap: пациенты, расписание и команда в одном месте. Начните бесплатно: {link}",
    ),
    "linkedin": ("", "Руководите стоматологической клиникой? DentalTap: пациенты, расписание и команда. {link}"),
    "x": ("", "Моя стоматологическая клиника работает в DentalTap. Начните бесплатно: {link}"),
    "facebook": ("", "Коллеги, DentalTap: пациенты, расписание и команда клиники в одном месте. {link}"),
}


def _replace(apps, old, new):
    template_model = apps.get_model("referrals", "ReferralMessageTemplate")
    for channel, (subject, text) in new.items():
        old_subject, old_text = old[channel]
        row, created = template_model.objects.get_or_create(
            channel=channel, language="ru", defaults={"subject": subject, "text": text}
        )
        if not created and row.subject == old_subject and row.text == old_text:
            row.subject, row.text = subject, text
            row.save(update_fields=["subject", "text", "updated_at"])


def forwards(apps, schema_editor):
    _replace(apps, OLD_RU, NEW_RU)


def backwards(apps, schema_editor):
    _replace(apps, NEW_RU, OLD_RU)


class Migration(migrations.Migration):
    dependencies = [("referrals", "0005_referral_converted")]

    operations = [migrations.RunPython(forwards, backwards)]
