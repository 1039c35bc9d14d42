"""Fixtures of the offline deployment checks: the Bicep files parsed, and the app's functions.

Nothing here starts the local stack: these tests read files and the app's registrations.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pycep import BicepParser

from tests.deploy.helpers import BICEP, MANIFEST, ROOT, bicep_files


@pytest.fixture(scope="session")
def parsed_bicep() -> dict[str, dict[str, Any]]:
    """Each Bicep file (path relative to infra/bicep) parsed by pycep."""
    parser = BicepParser()
    return {str(p.relative_to(BICEP)): parser.parse(text=p.read_text(encoding="utf-8"))
            for p in bicep_files()}


@pytest.fixture(scope="session")
def registered_functions() -> list[dict[str, Any]]:
    """function_app's functions and bindings, read in a process of their own: the app's
    ``get_functions()`` runs once per app, and other tests read it in this process."""
    result = subprocess.run([sys.executable, str(MANIFEST), "functions"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
