from django.db import migrations

FOOTER = {
    "en": "\n\n--\nYou get this because you help run {{ practice_name }} on DentalTap.\nNo more of these tips: {{ unsubscribe_url }}\n",
    "de": "\n\n--\nSie erhalten diese E-Mail, weil Sie {{ practice_name }} auf DentalTap mitverwalten.\nKeine solchen Tipps mehr: {{ unsubscribe_url }}\n",
    "ru": "\n\n--\nВы получили это письмо, потому что помогаете вести {{ practice_name }} в DentalTap.\nБольше не присылать такие советы: {{ unsubscribe_url }}\n",
}

STEPS = [
    {
        "key": "import-patients",
        "name": "Three days without a patient: how to add them",
        "trigger_milestone": "practice_created",
        "delay_hours": 72,
        "awaited_milestone": "first_patient",
        "recipient_permission": "edit_patients",
        "action_path": "/patients/new/",
        "texts": {
            "en": (
                "Add your first patients to {{ practice_name }}",
                "Hello {{ recipient_name }},\n\n{{ practice_name }} has no patients yet. Add the first one in a minute"
                " (name and, if you like, a date of birth and contact details):\n{{ action_url }}\n\nMoving from"
                " another system? Add the patients you will see this week first; the rest can follow.",
            ),
            "de": (
                "Legen Sie die ersten Patienten in {{ practice_name }} an",
                "Hallo {{ recipient_name }},\n\n{{ practice_name }} hat noch keine Patienten. Den ersten legen Sie in"
                " einer Minute an:\n{{ action_url }}\n\nSie wechseln von einem anderen System? Beginnen Sie mit den"
                " Patienten dieser Woche; der Rest kann folgen.",
            ),
            "ru": (
                "Добавьте первых пациентов в {{ practice_name }}",
                "Здравствуйте, {{ recipient_name }}!\n\nВ {{ practice_name }} пока нет пациентов. Первого можно"
                " добавить за минуту:\n{{ action_url }}\n\nПереходите из другой системы? Начните с пациентов этой"
                " недели, остальные подождут.",
            ),
        },
    },
    {
        "key": "book-first-appointment",
        "name": "A patient but no appointment after a day: how to book one",
        "trigger_milestone": "first_patient",
        "delay_hours": 24,
        "awaited_milestone": "first_appointment_booked",
        "recipient_permission": "manage_schedule",
        "action_path": "/appointments/new/",
        "texts": {
            "en": (
                "Book the first appointment in {{ practice_name }}",
                "Hello {{ recipient_name }},\n\nYour first patient is in {{ practice_name }}. Put their next visit on"
                " the schedule, and the whole team sees it:\n{{ action_url }}",
            ),
            "de": (
                "Buchen Sie den ersten Termin in {{ practice_name }}",
                "Hallo {{ recipient_name }},\n\nIhr erster Patient ist in {{ practice_name }} angelegt. Tragen Sie"
                " seinen nächsten Besuch ein, dann sieht ihn das ganze Team:\n{{ action_url }}",
            ),
            "ru": (
                "Запишите первый приём в {{ practice_name }}",
                "Здравствуйте, {{ recipient_name }}!\n\nПервый пациент уже в {{ practice_name }}. Запишите его"
                " следующий визит в расписание, и его увидит вся команда:\n{{ action_url }}",
            ),
        },
    },
    {
        "key": "invite-your-team",
        "name": "Activated but nobody invited: invite your team",
        "trigger_milestone": "activated",
        "delay_hours": 24,
        "awaited_milestone": "first_colleague_invited",
        "recipient_permission": "invite_colleagues",
        "action_path": "/invitations/",
        "texts": {
            "en": (
                "{{ practice_name }} is up and running: invite your team",
                "Hello {{ recipient_name }},\n\n{{ practice_name }} is set up: patients, a schedule, a first visit"
                " done. Invite the colleagues you work with, each with the role they need:\n{{ action_url }}\n\n"
                "Know a dentist elsewhere who would like this too? Your personal link gives them their own"
                " practice, and you a $50 credit when they start paying:\n{{ referral_link }}",
            ),
            "de": (
                "{{ practice_name }} läuft: laden Sie Ihr Team ein",
                "Hallo {{ recipient_name }},\n\n{{ practice_name }} ist eingerichtet: Patienten, ein Kalender, ein"
                " erster Besuch. Laden Sie Ihre Kolleginnen und Kollegen ein, jede mit der passenden Rolle:\n"
                "{{ action_url }}\n\nSie kennen Zahnärzte anderswo, denen das auch hilft? Ihr persönlicher Link gibt"
                " ihnen eine eigene Praxis und Ihnen 50 $ Guthaben, sobald sie zahlen:\n{{ referral_link }}",
            ),
            "ru": (
                "{{ practice_name }} работает: пригласите команду",
                "Здравствуйте, {{ recipient_name }}!\n\n{{ practice_name }} настроена: пациенты, расписание, первый"
                " приём. Пригласите коллег, каждому — свою роль:\n{{ action_url }}\n\nЗнаете стоматологов в других"
                " клиниках, которым это пригодится? По вашей личной ссылке они получат свою практику, а вы — $50 на"
                " счёт, когда они начнут платить:\n{{ referral_link }}",
            ),
        },
    },
]


def create_steps(apps, schema_editor):
    LifecycleStep = apps.get_model("lifecycle", "LifecycleStep")
    LifecycleStepText = apps.get_model("lifecycle", "LifecycleStepText")
    for definition in STEPS:
        definition = dict(definition)
        texts = definition.pop("texts")
        step, created = LifecycleStep.objects.get_or_create(key=definition["key"], defaults=definition)
        if not created:
            continue
        for language, (subject, body) in texts.items():
            LifecycleStepText.objects.create(step=step, language=language, subject=subject, body=body + FOOTER[language])


class Migration(migrations.Migration):
    dependencies = [("lifecycle", "0001_initial")]

    operations = [migrations.RunPython(create_steps, migrations.RunPython.noop)]
