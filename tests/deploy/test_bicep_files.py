"""Every Bicep file parses, every module it names exists, and roles are assigned by id."""

from __future__ import annotations

import json
import re

import pytest
from pycep import BicepParser

from tests.deploy.helpers import BICEP, ROOT, bicep_files

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(BICEP)))
def test_bicep_file_parses(path):
    parsed = BicepParser().parse(text=path.read_text(encoding="utf-8"))
    assert parsed.get("resources", {}) or parsed.get("modules", {}), f"{path.name} declares nothing"


def test_the_service_has_its_parts(parsed_bicep):
    declared = {resource["type"] for parsed in parsed_bicep.values()
                for resource in parsed.get("resources", {}).values()}
    assert {
        "Microsoft.Web/sites", "Microsoft.Web/serverfarms", "Microsoft.Storage/storageAccounts",
        "Microsoft.EventGrid/systemTopics", "Microsoft.EventGrid/systemTopics/eventSubscriptions",
        "Microsoft.DBforPostgreSQL/flexibleServers", "Microsoft.KeyVault/vaults",
        "Microsoft.KeyVault/vaults/keys", "Microsoft.Insights/components",
        "Microsoft.OperationalInsights/workspaces", "Microsoft.ApiManagement/service",
        "Microsoft.ApiManagement/service/apis", "Microsoft.Cdn/profiles", "Microsoft.Cache/redis",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
    } <= declared


def test_modules_exist(parsed_bicep):
    for name, parsed in parsed_bicep.items():
        for module in parsed.get("modules", {}).values():
            target = (BICEP / name).parent / module["detail"]["path"]
            assert target.is_file(), f"{name} names a missing module {target}"


def test_flex_consumption_python_311(parsed_bicep):
    app = parsed_bicep["modules/functionapp.bicep"]["resources"]
    config = app["app"]["config"]["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    assert app["plan"]["config"]["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert app["app"]["config"]["identity"]["type"] == "UserAssigned"


def test_role_assignments_use_role_ids_from_one_place(parsed_bicep):
    """No role is named by display name, and no GUID is pasted in a template: built-in ids
    come from modules/roles.json, custom ones from their roleDefinitions resource."""
    roles = json.loads((BICEP / "modules" / "roles.json").read_text())
    assert all(GUID.fullmatch(v) for k, v in roles.items() if not k.startswith("_"))
    for name in parsed_bicep:
        text = (BICEP / name).read_text(encoding="utf-8")
        assert not GUID.search(text), f"{name}: a GUID literal; put it in roles.json"
        # a loop variable counts when it runs over a list of roles.<name> only
        loops = {m.group(1) for m in re.finditer(r"for (\w+) in (\w+):", text)
                 if re.search(rf"var {m.group(2)} = \[(\s*roles\.\w+,?)+\s*\]", text)}
        for match in re.finditer(r"roleDefinitionId:\s*(.+)", text):
            value = match.group(1).strip()
            by_loop = any(value.endswith(f", {loop})") for loop in loops)
            assert "roles." in value or value.endswith(".id") or by_loop, f"{name}: {value}"


def test_no_secret_in_app_settings():
    """App settings hold names, URLs and Key Vault references: no value of a secret."""
    text = (BICEP / "main.bicep").read_text(encoding="utf-8")
    settings = text[text.index("var appSettings = {"):text.index("module functionApp")]
    for line in settings.splitlines():
        secret_like = re.search(r"(KEY|SECRET|TOKEN|PASSWORD|REDIS_URL)\w*:", line)
        if secret_like and "VAULT_KEY" not in line:
            assert "@Microsoft.KeyVault(" in line or ": ''" in line, line
    assert "listKeys" not in settings and "password" not in settings.lower()


def test_every_suppression_gives_its_reason():
    suppressions = []
    for path in bicep_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "checkov:skip=" in line:
                check, _, reason = line.split("checkov:skip=", 1)[1].partition(":")
                suppressions.append((path.name, check.strip(), reason.strip()))
    assert suppressions
    for name, check, reason in suppressions:
        assert re.fullmatch(r"CKV2?_AZURE_\d+", check), (name, check)
        assert len(reason.split()) >= 6, f"{name}: {check} needs a reason"


def test_migrations_create_only_allowed_extensions(parsed_bicep):
    """Azure refuses CREATE EXTENSION unless azure.extensions lists it (modules/postgres)."""
    call = parsed_bicep["main.bicep"]["modules"]["postgres"]["config"]["params"]
    allowed = {name.lower() for name in call["extensions"]}
    created = set()
    for sql in (ROOT / "shared" / "db" / "migrations").glob("*.sql"):
        created |= {m.lower() for m in re.findall(
            r"CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(\w+)", sql.read_text(), re.I)}
    assert created <= allowed, f"add {sorted(created - allowed)} to main.bicep's extensions"
