"""What API Management imports and how it is wired: every HTTP route the app registers is in
the OpenAPI document (shared/openapi.py) within API Management's import rules, the policy is
well-formed XML once filled, and the postdeploy hook's parameters match postdeploy.bicep."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from shared.openapi import document
from tests.deploy.helpers import BICEP, MANIFEST, ROOT


@pytest.fixture(scope="module")
def openapi() -> dict:
    return document()


def _http(registered_functions):
    for function in registered_functions:
        trigger = function["bindings"][0]
        # The method fallbacks only refuse (405, 404): no operation of the API.
        if trigger["type"] == "httpTrigger" and \
                not function["name"].startswith("method_fallback_"):
            yield function["name"], trigger


def test_every_http_route_is_in_the_document(registered_functions, openapi):
    documented = {(path, method) for path, ops in openapi["paths"].items() for method in ops}
    routes = list(_http(registered_functions))
    assert routes
    for name, trigger in routes:
        path = "/" + re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", trigger["route"])
        for method in trigger["methods"]:
            assert (path, method.lower()) in documented, f"{name}: {method} {path} undocumented"


def test_document_within_api_management_import_rules(openapi):
    """Inline import: at most 4 MB, no external $ref, and parameter names unique (case-
    insensitively) across the path and required query parameters of each operation."""
    text = json.dumps(openapi)
    assert len(text.encode()) < 4 * 1024 * 1024
    refs = re.findall(r'"\$ref":\s*"([^"]+)"', text)
    assert all(ref.startswith("#/") for ref in refs)
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            names = [p["name"].lower() for p in operation.get("parameters", [])
                     if p["in"] == "path" or (p["in"] == "query" and p.get("required"))]
            assert len(names) == len(set(names)), (method, path, names)


def test_http_functions_need_the_function_key(registered_functions):
    """The host takes a request only with the key API Management's backend sends, so the
    app's own host name does not bypass the gateway (functions/_http.py: KEYED)."""
    levels = {name: trigger["authLevel"] for name, trigger in _http(registered_functions)}
    assert set(levels.values()) == {"function"}, levels


def test_blob_triggers_use_event_grid(registered_functions):
    """Flex Consumption has no polling blob trigger: each gets an Event Grid subscription."""
    for function in registered_functions:
        trigger = function["bindings"][0]
        if trigger["type"] == "blobTrigger":
            assert trigger.get("source") == "EventGrid", function["name"]


def _filled_policy() -> str:
    text = (BICEP / "apim" / "api-policy.xml").read_text(encoding="utf-8")
    bicep = (BICEP / "postdeploy.bicep").read_text(encoding="utf-8")
    placeholders = set(re.findall(r"__[A-Z_]+__", text))
    assert placeholders and all(f"'{p}'" in bicep for p in placeholders), placeholders
    for placeholder in placeholders:
        text = text.replace(placeholder, "https://login.example/t/v2.0?a=1&amp;b=2")
    return text


def test_policy_is_well_formed_and_complete():
    root = ET.fromstring(_filled_policy())
    inbound = root.find("inbound")
    jwt = inbound.find(".//validate-jwt")
    assert jwt is not None and jwt.find("issuers/issuer") is not None
    assert jwt.find("audiences/audience") is not None and jwt.find("openid-config") is not None
    limits = inbound.findall(".//rate-limit-by-key")
    assert any("Subject" in limit.get("counter-key") for limit in limits)
    # CDN misses come from a few Front Door addresses: keyed by the client Front Door saw,
    # and only for this profile's requests.
    anonymous = [limit.get("counter-key") for limit in limits if "ip:" in limit.get("counter-key")]
    assert anonymous and all("X-Azure-FDID" in key and "X-Azure-ClientIP" in key
                             for key in anonymous)
    assert any(h.get("name") == "X-Request-ID" for h in inbound.findall("set-header"))
    assert "application/vnd.visiobook.v1+json" in ET.tostring(root, encoding="unicode")
    backend = inbound.find("set-backend-service").get("backend-id")
    bicep = (BICEP / "postdeploy.bicep").read_text(encoding="utf-8")
    assert f"name: '{backend}'" in bicep
    for include in root.iter("include-fragment"):
        assert f"name: '{include.get('fragment-id')}'" in bicep
        ET.parse(BICEP / "apim" / f"{include.get('fragment-id')}.xml")


def test_postdeploy_parameters_match_the_template(parsed_bicep):
    env = {**os.environ, "AZURE_CONTAINER_NAME": "visiobook-files",
           "API_CALLS_PER_USER_PER_MINUTE": "600", "API_CALLS_PER_ANONYMOUS_IP_PER_MINUTE": "120"}
    outputs = parsed_bicep["main.bicep"]["outputs"]
    for name in ("AZURE_FUNCTION_APP_NAME", "AZURE_STORAGE_ACCOUNT", "AZURE_EVENTGRID_TOPIC_NAME",
                 "AZURE_EVENTGRID_DEADLETTER_CONTAINER", "AZURE_KEY_VAULT_NAME", "AZURE_APIM_NAME",
                 "AZURE_APIM_PRINCIPAL_ID", "AZURE_FRONT_DOOR_ID", "JWT_ISSUER", "JWT_AUDIENCE"):
        assert name in outputs, f"main.bicep must output {name} for the hook"
        env.setdefault(name, f"test-{name.lower()}")
    result = subprocess.run([sys.executable, str(MANIFEST), "postdeploy-parameters"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    given = json.loads(result.stdout)["parameters"]
    declared = parsed_bicep["postdeploy.bicep"]["parameters"]
    required = {name for name, p in declared.items() if p.get("default") is None}
    assert required <= set(given), required - set(given)
    assert set(given) <= set(declared), set(given) - set(declared)
    triggers = given["blobTriggers"]["value"]
    assert {"functionName": "backup_new_blob", "containerName": "visiobook-files",
            "pathPrefix": ""} in triggers
    assert json.loads(given["openApiDocument"]["value"])["paths"]


def test_hooks_read_only_what_azd_has():
    """Every variable the hooks read is an output of main.bicep, one azd sets itself, or one
    the deployer may set (documented in the README)."""
    outputs = set(re.findall(r"^output (\w+) ", (BICEP / "main.bicep").read_text(), re.M))
    azd_own = {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_PRINCIPAL_ID", "AZURE_SUBSCRIPTION_ID"}
    optional = {"PYTHON", "DEPLOYER_IP", "JWT_OPENID_CONFIG_URL", "AZURE_PRINCIPAL_NAME",
                "AZURE_PRINCIPAL_TYPE", "PGPASSWORD", "DATABASE_URL"}
    hooks = ROOT / "infra" / "hooks"
    for path in hooks.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".sh":
            assigned = set(re.findall(r"^\s*(?:export )?([A-Z][A-Z0-9_]+)=", text, re.M))
            used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", text)) - assigned
        else:
            used = set(re.findall(r"""environ(?:\.get)?[\[(]["']([A-Z][A-Z0-9_]+)["']""", text))
            used |= set(re.findall(r"""env(?:\.get)?[\[(]["']([A-Z][A-Z0-9_]+)["']""", text))
        unknown = used - outputs - azd_own - optional
        assert not unknown, (path.name, unknown)
