"""Default ready-to-send messages, one per channel and language; staff edit them in the admin."""

from django.db import migrations

EN = {
    "email": (
        "Try DentalTap for your practice",
        "Hi,\n\nI use DentalTap for my practice: patients, schedule and team in one place. "
        "You get your own practice, free to start. Sign up here: {link}\n",
    ),
    "whatsapp": ("", "I use DentalTap for my practice: patients, schedule and team in one place. Start free: {link}"),
    "telegram": ("", "I use DentalTap for my practice: patients, schedule and team in one place. Start free: {link}"),
    "linkedin": ("", "Running a dental practice? DentalTap keeps patients, schedule and team in one place. {link}"),
    "x": ("", "My dental practice runs on DentalTap: patients, schedule, team. Start free: {link}"),
    "facebook": ("", "Colleagues: DentalTap keeps our practice's patients, schedule and team in one place. {link}"),
}
DE = {
    "email": (
        "DentalTap für Ihre Praxis",
        "Hallo,\n\nich nutze DentalTap für meine Praxis: Patienten, Termine und Team an einem Ort. "
        "Sie bekommen Ihre eigene Praxis, kostenlos zum Start. Hier anmelden: {link}\n",
    ),
    "whatsapp": ("", "Ich nutze DentalTap für meine Praxis: Patienten, Termine und Team an einem Ort. {link}"),
    "telegram": ("", "Ich nutze DentalTap für meine Praxis: Patienten, Termine und Team an einem Ort. {link}"),
    "linkedin": ("", "Sie führen eine Zahnarztpraxis? DentalTap bündelt Patienten, Termine und Team. {link}"),
    "x": ("", "Meine Zahnarztpraxis läuft mit DentalTap. Kostenlos starten: {link}"),
    "facebook": ("", "Liebe Kollegen: DentalTap bündelt Patienten, Termine und Team unserer Praxis. {link}"),
}
RU = {
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


def create_defaults(apps, schema_editor):
    template_model = apps.get_model("referrals", "ReferralMessageTemplate")
    for language, texts in (("en", EN), ("de", DE), ("ru", RU)):
        for channel, (subject, text) in texts.items():
            template_model.objects.get_or_create(
                channel=channel, language=language, defaults={"subject": subject, "text": text}
            )


class Migration(migrations.Migration):
    dependencies = [("referrals", "0002_dashboard_templates_review_indexes")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
