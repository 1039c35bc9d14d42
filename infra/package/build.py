"""The function app's deployment package for Azure (Linux x64, Python 3.11).

    python infra/package/build.py deps    # wheels into .python_packages/lib/site-packages
    python infra/package/build.py zip     # dist/function-app.zip of what .funcignore lets through
    python infra/package/build.py smoke   # import function_app from the unpacked zip, alone
    python infra/package/build.py all     # the three, in order

Wheels only (``--only-binary=:all:``) for manylinux x86_64: Flex Consumption has no build step
here (azure.yaml: remoteBuild false) and no apt, so whatever a requirement needs at run time
(FFmpeg in imageio-ffmpeg, the OCR models in rapidocr-onnxruntime, ...) comes inside its wheel.
Versions are pinned by the project's constraints file when there is one, else by this venv's.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pathspec

ROOT = Path(__file__).resolve().parents[2]
SITE_PACKAGES = Path(".python_packages") / "lib" / "site-packages"
ZIP = ROOT / "dist" / "function-app.zip"
# manylinux2014 is glibc 2.17; some wheels (onnxruntime) are only tagged 2.28, which the
# Python 3.11 image of Azure Functions (Debian 12, glibc 2.36) runs.
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
CONSTRAINTS = ("constraints.txt", "requirements.lock", "requirements-lock.txt")
APP_MODULES = {"function_app", "functions", "shared"}
ALWAYS_SKIPPED = {".git"}


def constraints_file(root: Path = ROOT) -> Path:
    """The project's pinned versions, or this venv's as they are (pip freeze)."""
    for name in CONSTRAINTS:
        if (root / name).is_file():
            return root / name
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True, check=True).stdout
    pinned = [line for line in frozen.splitlines() if "==" in line and " @ " not in line]
    path = root / "build" / "constraints-from-venv.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(pinned) + "\n", encoding="utf-8")
    return path


def pip_command(target: Path, constraints: Path, requirements: Path) -> list[str]:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
            "--target", str(target), *platforms, "--python-version", "3.11",
            "--implementation", "cp", "--only-binary=:all:", "--upgrade",
            "-r", str(requirements), "-c", str(constraints)]


def install_deps(root: Path = ROOT) -> None:
    target = root / SITE_PACKAGES
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    subprocess.run(pip_command(target, constraints_file(root), root / "requirements.txt"),
                   check=True)


def ignore_rules(root: Path = ROOT) -> pathspec.GitIgnoreSpec:
    lines = (root / ".funcignore").read_text(encoding="utf-8").splitlines()
    return pathspec.GitIgnoreSpec.from_lines(lines)


def shipped_files(root: Path = ROOT) -> list[Path]:
    """Files of the package, relative to root: everything .funcignore does not exclude
    (an excluded directory is not even walked: .venv and node_modules are large)."""
    rules = ignore_rules(root)
    kept = []
    for directory, subdirs, files in os.walk(root):
        here = Path(directory).relative_to(root)
        subdirs[:] = sorted(d for d in subdirs if d not in ALWAYS_SKIPPED
                            and not rules.match_file(f"{(here / d).as_posix()}/"))
        kept += [here / f for f in sorted(files) if not rules.match_file((here / f).as_posix())]
    return kept


def build_zip(root: Path = ROOT, destination: Path = ZIP) -> Path:
    if not (root / SITE_PACKAGES).is_dir():
        raise SystemExit(f"{SITE_PACKAGES} is missing: run `make package-deps` first")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for relative in shipped_files(root):
            source = root / relative
            info = zipfile.ZipInfo.from_file(source, relative.as_posix())  # keeps the mode
            info.compress_type = zipfile.ZIP_DEFLATED
            with source.open("rb") as data, archive.open(info, "w") as out:
                shutil.copyfileobj(data, out, 1024 * 1024)
    report(destination)
    return destination


def report(path: Path) -> None:
    sizes: dict[str, int] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            parts = Path(info.filename).parts
            top = parts[3] if parts[:3] == SITE_PACKAGES.parts and len(parts) > 3 else parts[0]
            sizes[top] = sizes.get(top, 0) + info.file_size
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 2**20:.1f} MiB compressed, "
          f"{sum(sizes.values()) / 2**20:.1f} MiB unpacked")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {size / 2**20:8.1f} MiB  {name}")


def imported_modules(root: Path) -> set[str]:
    """Absolute imports of the app's own code (any depth, lazy ones too), not the stdlib's."""
    found: set[str] = set()
    sources = [root / "function_app.py", *(root / "shared").rglob("*.py"),
               *(root / "functions").rglob("*.py")]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return {name for name in found if name.split(".")[0] not in
            set(sys.stdlib_module_names) | APP_MODULES}


# Run inside the clean interpreter: only the unpacked package is on sys.path.
_SMOKE = r"""
import importlib.util, json, os, subprocess, sys
root = sys.argv[1]
sys.path[:0] = [root, os.path.join(root, ".python_packages", "lib", "site-packages")]
import function_app
names = [f.get_function_name() for f in function_app.app.get_functions()]
missing = [m for m in json.loads(sys.argv[2]) if importlib.util.find_spec(m) is None]
if importlib.util.find_spec("imageio_ffmpeg"):
    import imageio_ffmpeg
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-version"], check=True, capture_output=True)
if importlib.util.find_spec("rapidocr_onnxruntime"):
    package = os.path.dirname(importlib.util.find_spec("rapidocr_onnxruntime").origin)
    models = os.path.join(package, "models")
    assert any(n.endswith(".onnx") for n in os.listdir(models)), "rapidocr: no models"
if importlib.util.find_spec("pypdfium2"):
    # The media reader is a child process: it must find the package's libraries on the path
    # the host was given, as in Azure, not on the interpreter's own.
    import tempfile
    from shared.media import documents, probe
    from shared.media.limits import MediaLimits
    with tempfile.TemporaryDirectory() as scratch:
        pdf = os.path.join(scratch, "one.pdf")
        with open(pdf, "wb") as out:
            out.write(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type"
                      b"/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R"
                      b"/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
        from pathlib import Path
        pages = documents.pdf_metadata(Path(pdf), MediaLimits())["document"]["pages"]
        assert pages == 1, pages
        try:
            probe.probe(Path(pdf), MediaLimits())
        except Exception as exc:  # not a video: refused by FFmpeg, not for a missing module
            assert "not a readable audio or video file" in str(exc), exc
print(json.dumps({"functions": names, "missing": missing}))
"""


def smoke(path: Path = ZIP, python: str | None = None) -> list[str]:
    """Unpack, make an empty Python 3.11 venv, import function_app there; the functions."""
    python = python or shutil.which("python3.11") or sys.executable
    with tempfile.TemporaryDirectory(prefix="package-smoke-") as tmp:
        unpacked = Path(tmp) / "app"
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                archive.extract(info, unpacked)
                mode = info.external_attr >> 16
                if mode:
                    (unpacked / info.filename).chmod(mode & 0o7777)
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
        modules = sorted(imported_modules(unpacked))
        result = subprocess.run(
            [str(venv / "bin" / "python"), "-I", "-c", _SMOKE, str(unpacked),
             __import__("json").dumps(modules)],
            capture_output=True, text=True, cwd=tmp, timeout=300, check=False)
    if result.returncode != 0:
        raise SystemExit(f"smoke test failed: the package cannot import function_app\n"
                         f"{result.stderr[-3000:]}")
    outcome = __import__("json").loads(result.stdout.strip().splitlines()[-1])
    if outcome["missing"]:
        raise SystemExit(f"smoke test failed: the app imports {outcome['missing']}, "
                         "which the package lacks (add them to requirements.txt)")
    print(f"smoke test: function_app imports {len(outcome['functions'])} functions from the "
          f"package alone ({len(modules)} imported modules found)")
    return outcome["functions"]


def main(argv: list[str]) -> int:
    steps = {"deps": install_deps, "zip": build_zip, "smoke": smoke}
    command = argv[1] if len(argv) > 1 else ""
    if command == "all":
        for step in steps.values():
            step()
    elif command in steps:
        steps[command]()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
