"""The packaging logic of `make package` (infra/package/build.py), checked cheaply: what ships,
how wheels are fetched, and that the smoke test refuses a package that lacks an import.
`make package` itself (a minute: wheels for Linux x64) is not part of `make test`."""

from __future__ import annotations

import importlib.util
import sys
import zipfile

import pytest

from tests.deploy.helpers import ROOT

_spec = importlib.util.spec_from_file_location("package_build", ROOT / "infra/package/build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)


def test_what_ships_from_this_repository():
    shipped = {path.as_posix() for path in build.shipped_files(ROOT)}
    assert {"function_app.py", "host.json", "requirements.txt"} <= shipped
    assert any(p.startswith("shared/db/migrations/") for p in shipped)
    assert any(p.startswith("functions/") for p in shipped)
    never = ("tests/", "devhost/", "bench/", ".local/", "node_modules/", "infra/", ".venv",
             ".git/", "local.settings", "__pycache__/", "dist/", "build/", ".azure/",
             ".mypy_cache/", ".ruff_cache/", ".pytest_cache/", ".hypothesis/")
    leaked = sorted(p for p in shipped if p.startswith(never) or "/__pycache__/" in p)
    assert not leaked, leaked[:10]


def test_python_packages_ship(tmp_path):
    (tmp_path / ".funcignore").write_text((ROOT / ".funcignore").read_text())
    site = tmp_path / build.SITE_PACKAGES / "pkg"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("")
    shipped = {p.as_posix() for p in build.shipped_files(tmp_path)}
    assert shipped == {".python_packages/lib/site-packages/pkg/__init__.py"}


def test_wheels_are_for_linux_x64_python_311(tmp_path):
    command = build.pip_command(tmp_path / "t", tmp_path / "c.txt", ROOT / "requirements.txt")
    assert "--only-binary=:all:" in command and "manylinux2014_x86_64" in command
    assert command[command.index("--python-version") + 1] == "3.11"
    assert command[command.index("-c") + 1] == str(tmp_path / "c.txt")


def test_constraints_come_from_the_venv_without_a_lock(tmp_path):
    pinned = build.constraints_file(tmp_path).read_text()
    assert "pydantic==" in pinned and " @ " not in pinned


def test_imports_found_include_lazy_ones(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "functions").mkdir()
    (tmp_path / "function_app.py").write_text("import json\nimport shared.x\n")
    (tmp_path / "shared" / "a.py").write_text("def f():\n    from azure.identity.aio import X\n")
    assert build.imported_modules(tmp_path) == {"azure.identity.aio"}


def _package(tmp_path, app_source: str):
    root = tmp_path / "src"
    (root / build.SITE_PACKAGES).mkdir(parents=True)
    (root / "function_app.py").write_text(app_source)
    for package in ("shared", "functions"):
        (root / package).mkdir()
    path = tmp_path / "app.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(root / "function_app.py", "function_app.py")
    return path


def test_smoke_refuses_a_package_missing_an_import(tmp_path):
    app = "class App:\n    def get_functions(self):\n        return []\napp = App()\n"
    path = _package(tmp_path, app + "def lazy():\n    import yaml\n")
    with pytest.raises(SystemExit, match="yaml"):
        build.smoke(path, python=sys.executable)


def test_smoke_refuses_a_package_whose_app_does_not_import(tmp_path):
    path = _package(tmp_path, "import azure.functions\n")
    with pytest.raises(SystemExit, match="cannot import function_app"):
        build.smoke(path, python=sys.executable)
