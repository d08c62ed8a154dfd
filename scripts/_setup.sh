# Sourced by scripts/run.sh and scripts/test.sh: a project-local virtualenv with exactly the
# pinned dependencies. Re-installs only when pyproject.toml or constraints.txt change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi
stamp=".venv/.dentaltap-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "[setup] installing dependencies (pinned in constraints.txt)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[embedded,dev]"
    rm -f .venv/.dentaltap-*
    touch "$stamp"
fi
# The project folder on the virtualenv's path (the project is not a package, so the editable
# install adds nothing): `.venv/bin/pytest` then loads the suite's plugin (tests/stack_plugin.py)
# before any conftest, as `python -m pytest` from this folder does.
echo "$PWD" > "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/dentaltap-project.pth"
