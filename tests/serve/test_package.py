"""The page ships inside the package: a built wheel holds it, and the installed package finds it."""

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ["index.html", "style.css", "app.js"]


def test_the_installed_package_finds_its_page():
    static = resources.files("mygpt.serve").joinpath("static")
    for name in PAGE:
        assert static.joinpath(name).read_text(encoding="utf-8").strip()


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None, reason="setuptools is needed to build a wheel")
def test_a_built_wheel_holds_the_page(tmp_path):
    """``pip wheel`` of a copy of the project (offline: the installed setuptools, no build isolation)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp_path / "wheel"), str(source)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "wheel").glob("mygpt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(f"mygpt/serve/static/{name}" in names for name in PAGE), names
