"""The real Python worker (``azure-functions-runtime``, Python 3.13, in ``.venv-worker``)
indexes the apps offline, and the devhost indexes them the same: the same functions,
triggers, routes, methods, route parameters, queues, blob paths and sources, schedules; and
it refuses, at start-up, the apps the worker refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devhost.ports import free_ports
from devhost.stack import ROOT

WORKER_PYTHON = ROOT / ".venv-worker" / "bin" / "python"
APPS = Path(__file__).resolve().parent / "worker_apps"


@pytest.fixture(scope="module")
def worker_python() -> Path:
    if not WORKER_PYTHON.exists():
        pytest.fail(f"{WORKER_PYTHON} is missing: `make test` creates it from a Python 3.13 "
                    "(`make worker-venv` alone)", pytrace=False)
    return WORKER_PYTHON


def worker_index(python: Path, app_dir: Path) -> dict[str, Any]:
    result = subprocess.run([python, "-m", "devhost.worker_index", app_dir], cwd=ROOT,
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def devhost_index(app_dir: Path) -> tuple[int, dict[str, Any]]:
    result = subprocess.run([sys.executable, "-m", "devhost", "index", "--root", app_dir],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("app_dir", [ROOT, APPS / "sample"], ids=["function_app", "sample_app"])
def test_the_worker_and_the_devhost_index_the_same_functions(worker_python: Path,
                                                             app_dir: Path) -> None:
    worker = worker_index(worker_python, app_dir)
    assert worker["ok"], worker["error"]
    code, devhost = devhost_index(app_dir)
    assert code == 0, devhost
    assert worker["functions"], "the worker found no function"
    assert devhost["functions"] == worker["functions"]


@pytest.mark.parametrize(("case", "reason"), [
    ("unbound_parameter", "page"),
    ("classic_request", "HttpRequest"),
    ("unresolved_annotation", "TimerRequst"),
])
def test_what_the_worker_refuses_the_devhost_refuses(worker_python: Path, case: str,
                                                     reason: str) -> None:
    worker = worker_index(worker_python, APPS / case)
    assert not worker["ok"]
    assert reason in worker["error"]
    code, devhost = devhost_index(APPS / case)
    assert code == 1
    assert not devhost["ok"]
    assert reason in devhost["error"]


def test_devhost_serve_refuses_to_start_an_app_the_worker_refuses() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devhost", "serve", "--root", APPS / "unbound_parameter",
         "--no-settings", "--port", str(free_ports(1)[0])],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert ("the Python worker would refuse this app: cannot load the items function"
            in result.stderr)
