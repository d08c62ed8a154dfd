"""The embedded stack's entry points stop what they started and nothing else: the test command
run beside the run command in the same checkout reuses its servers and leaves them up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LAUNCHER = """
import json, os
from dentaltap import devstack
started = devstack.ensure_environment()
devstack.stop(started)  # what a launcher does when it ends
print(json.dumps({"started": started, "running": devstack.running()}))
"""


def launch(data_dir: Path) -> dict[str, list[str]]:
    # PostgreSQL is this run's own (DATABASE_URL set); Redis is embedded in a folder of the test's.
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env["DENTALTAP_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-c", LAUNCHER], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_launcher_stops_the_servers_it_started_and_leaves_the_ones_it_found_running(tmp_path: Path) -> None:
    assert launch(tmp_path) == {"started": ["redis"], "running": []}  # started it, stopped it

    env = {**os.environ, "DENTALTAP_DATA_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    keeper = [sys.executable, "-c", "from dentaltap import devstack; devstack.ensure_environment()"]
    subprocess.run(keeper, cwd=ROOT, env=env, check=True, timeout=60)  # the run command's servers, say
    try:
        assert launch(tmp_path) == {"started": [], "running": ["redis"]}  # reused, left up
    finally:
        subprocess.run([sys.executable, "-m", "dentaltap.devstack", "stop"], cwd=ROOT, env=env, check=True, timeout=60)
    assert launch(tmp_path)["started"] == ["redis"]  # `devstack stop` stopped it, whoever started it
