"""Every setting the code reads is provided by the Bicep's app settings, or accounted for in
tests/deploy/settings_accounted.py with a reason; and the Bicep sets nothing nobody reads.

"Read" means: the aliases of shared/settings.py's Settings fields, the names that shared/ and
functions/ read with os.environ / os.getenv, the %NAME% expressions of the bindings (the host
resolves them from app settings and refuses to index a function without them) and the
bindings' connection names.
"""

from __future__ import annotations

import re

import pytest

from tests.deploy.helpers import ROOT, unquote
from tests.deploy.settings_accounted import OPTIONAL, PENDING, PLATFORM
from tests.unit.conftest import documented_setting_names

_ENV_READ = re.compile(
    r"""(?:os\.environ\.get|os\.getenv|os\.environ\.setdefault)\(\s*["']([^"']+)["']"""
    r"""|os\.environ\[\s*["']([^"']+)["']\s*\]""")
_EXPRESSION = re.compile(r"%([A-Za-z0-9_]+)%")


def environ_reads() -> set[str]:
    names: set[str] = set()
    for path in [ROOT / "function_app.py", *(ROOT / "shared").rglob("*.py"),
                 *(ROOT / "functions").rglob("*.py")]:
        for match in _ENV_READ.finditer(path.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    return names


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


@pytest.fixture(scope="module")
def binding_reads(registered_functions) -> tuple[set[str], set[str]]:
    """(%NAME% expressions, connection names) of every binding."""
    expressions, connections = set(), set()
    for function in registered_functions:
        for binding in function["bindings"]:
            for text in _strings(binding):
                expressions |= set(_EXPRESSION.findall(text))
            if binding.get("connection"):
                connections.add(binding["connection"])
    return expressions, connections


@pytest.fixture(scope="module")
def provided(parsed_bicep) -> set[str]:
    """Keys of main.bicep's appSettings and functionapp.bicep's hostSettings."""
    app = parsed_bicep["main.bicep"]["variables"]["appSettings"]["value"]
    host = parsed_bicep["modules/functionapp.bicep"]["variables"]["hostSettings"]["value"]
    return {unquote(key) for key in [*app, *host]}


@pytest.fixture(scope="module")
def read(binding_reads) -> set[str]:
    return documented_setting_names() | environ_reads() | binding_reads[0]


def test_every_setting_read_is_provided_or_optional(read, provided):
    missing = read - provided - set(OPTIONAL)
    assert not missing, (
        f"the code reads {sorted(missing)}, which Azure would not have: add them to "
        "infra/bicep/main.bicep's appSettings, or to OPTIONAL in "
        "tests/deploy/settings_accounted.py with the reason")


def test_binding_expressions_are_provided(binding_reads, provided):
    """The host refuses to index a function whose %NAME% has no app setting."""
    assert binding_reads[0] <= provided, sorted(binding_reads[0] - provided)


def test_binding_connections_are_provided(binding_reads, provided):
    for connection in binding_reads[1]:
        assert connection in provided or any(
            key.startswith(f"{connection}__") for key in provided), connection


def test_every_setting_provided_is_read_or_accounted(read, provided):
    unexplained = provided - read - set(PLATFORM) - set(PENDING)
    assert not unexplained, (
        f"main.bicep sets {sorted(unexplained)}, which nothing reads: a typo, or add it to "
        "PLATFORM or PENDING in tests/deploy/settings_accounted.py")


def test_accounted_lists_are_current(read, provided):
    assert set(OPTIONAL) <= read, f"no longer read: {sorted(set(OPTIONAL) - read)}"
    assert not set(OPTIONAL) & provided, "both provided and listed as optional"
    assert set(PLATFORM) <= provided, f"not provided: {sorted(set(PLATFORM) - provided)}"
    assert set(PENDING) <= provided, f"not provided: {sorted(set(PENDING) - provided)}"
    now_read = set(PENDING) & read
    assert not now_read, f"the code reads {sorted(now_read)} now: remove them from PENDING"
    assert all(len(reason) > 10 for reason in {**OPTIONAL, **PLATFORM, **PENDING}.values())
