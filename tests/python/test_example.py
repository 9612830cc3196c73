"""examples/python/quickstart.py, the main job's Python step, exits 0 against a real server."""

import os
import subprocess
import sys

from conftest import ROOT


def test_quickstart_example(base_url):
    env = dict(os.environ, CREDIT_SYNC_BASE_URL=base_url)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples/python/quickstart.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all scenarios behaved as the guide says" in proc.stdout


def test_money_flows_example(base_url):
    env = dict(os.environ, CREDIT_SYNC_BASE_URL=base_url)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples/python/money_flows.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "money flows: every scenario behaved as described" in proc.stdout
    assert "FAILED" not in proc.stdout
