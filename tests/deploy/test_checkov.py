"""checkov's Bicep checks pass on infra/bicep, offline; each suppression says why in place.

checkov pins its own dependencies (boto3, pycep-parser, ...), so it runs from its own venv,
.venv-iac, which `make test` builds from requirements-iac.txt (CHECKOV overrides the path).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.helpers import BICEP, ROOT


def _checkov() -> str:
    path = os.environ.get("CHECKOV") or str(ROOT / ".venv-iac" / "bin" / "checkov")
    if not Path(path).is_file() and not shutil.which(path):
        pytest.fail(f"checkov not found at {path}: run `make test` (it builds .venv-iac)",
                    pytrace=False)
    return path


def test_checkov_bicep_checks_pass():
    # --skip-download: no call to the vendor's API (guidelines); the checks ship in the wheel.
    result = subprocess.run(
        [_checkov(), "-d", str(BICEP), "--framework", "bicep", "--skip-download",
         "--output", "json", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"], c["file_path"])
              for c in report["results"].get("failed_checks", [])]
    assert not failed, f"checkov failed checks: {failed}"
    assert summary["parsing_errors"] == 0, "checkov could not parse a Bicep file"
    assert summary["resource_count"] >= 50 and summary["passed"] >= 30, summary
