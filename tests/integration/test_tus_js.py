"""tus from JavaScript, unmodified: tus-js-client under Node (a whole upload, and one stopped
half way and resumed), and Uppy's Tus plugin in headless Chromium uploading a file the page
generates, from a page of another origin (so CORS is exercised), bundled by esbuild from the
npm packages pinned in package.json."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.integration.browser import chromium, page_server
from tests.integration.helpers import png
from tests.integration.tus_helpers import TUS, V

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "tests" / "js"
BIN = ROOT / "node_modules" / ".bin"
KiB = 1024


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "tus-js-client").exists():
        pytest.fail("node and the npm packages are required: make install", pytrace=False)
    return node


def _file(api, headers, url: str) -> dict:
    head = api.head(urlsplit(url).path, headers={**headers, **V})
    assert head.status_code == 200
    file_id = head.headers["x-file-id"]
    return api.get(f"/api/v1/storage/files/{file_id}", headers=headers).json()["file"]


@pytest.mark.parametrize("mode", ["plain", "resume"])
def test_tus_js_client_under_node(api, base_url, token_for, user, tmp_path, mode):
    data = png(900 * KiB + 3)
    source = tmp_path / "source.png"
    source.write_bytes(data)
    done = subprocess.run(
        [_node(), JS / "tus_node.mjs", f"{base_url}{TUS}", token_for(user), source,
         str(100_000), mode],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if mode == "resume":
        assert result["resumedAt"] and 0 < result["resumedAt"] < len(data)
    record = _file(api, {"Authorization": f"Bearer {token_for(user)}"}, result["url"])
    assert record["checksum_sha256"] == hashlib.sha256(data).hexdigest()
    assert (record["original_name"], record["project_id"]) == ("node.png", "proj_node")


PAGE = """<!doctype html>
<meta charset="utf-8"><title>uppy</title>
<script>{script}</script>
"""


@pytest.mark.browser
def test_uppy_tus_plugin_in_chromium(api, base_url, token_for, user, tmp_path):
    _node()
    bundle = tmp_path / "uppy.js"
    built = subprocess.run([BIN / "esbuild", JS / "uppy_page.js", "--bundle", "--format=iife",
                            f"--outfile={bundle}", "--log-level=warning"],
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert built.returncode == 0, built.stderr
    script = bundle.read_text().replace("</script", "<\\/script")
    with page_server(PAGE.format(script=script)) as url, chromium(tmp_path) as browser:
        page = browser.first_page()
        try:
            page.navigate(url)
            options = {"endpoint": base_url + TUS, "token": token_for(user),
                       "size": 700 * KiB + 11, "chunkSize": 150_000}
            result = page.evaluate(f"window.runUpload({json.dumps(options)})")
        finally:
            page.close()
    assert result["failed"] == [] and len(result["uploaded"]) == 1, result
    record = _file(api, {"Authorization": f"Bearer {token_for(user)}"}, result["uploaded"][0])
    assert record["checksum_sha256"] == result["sha256"]
    assert record["original_name"] == "generated.png" and record["mime_type"] == "image/png"
