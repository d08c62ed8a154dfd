"""Settings by environment, as cookiecutter-django lays them out.

- `dentaltap.settings.base`: everything shared, from environment variables (with the subjects
  it imports from `logins`, `product`, `api` and `worker`);
- `dentaltap.settings.local`: development (manage.py's default, the run command, benchmarks);
- `dentaltap.settings.test`: the test suite (pyproject's pytest section);
- `dentaltap.settings.production`: the Docker image.

This package itself holds no settings: DJANGO_SETTINGS_MODULE names one of the modules.
"""
