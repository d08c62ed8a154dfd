from django.apps import AppConfig


class DentalTapConfig(AppConfig):
    """The shared kit as an app: its system checks (and its templates and static files)."""

    name = "dentaltap"
    verbose_name = "DentalTap"

    def ready(self) -> None:
        from dentaltap import checks  # noqa: F401,PLC0415 - registers the deploy checks
        from dentaltap.logs import task_signals_connect  # noqa: PLC0415

        task_signals_connect()  # a task's id and name on its log lines
