#!/usr/bin/env python
import os
import sys

DEFAULT_SETTINGS = "dentaltap.settings.local"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    if os.environ["DJANGO_SETTINGS_MODULE"] != "dentaltap.settings.production":
        # An entry point, not the settings, starts the embedded PostgreSQL and Redis where
        # DATABASE_URL / REDIS_URL are unset (a no-op when both are set).
        from dentaltap import devstack  # noqa: PLC0415

        devstack.ensure_environment()
    from django.core.management import execute_from_command_line  # noqa: PLC0415

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
