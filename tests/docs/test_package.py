"""What ``pip show mygpt`` and a package index show: the metadata in pyproject.toml is complete."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_package_metadata_names_license_authors_classifiers_and_readme():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
    assert project["authors"] == [{"name": "mygpt developers"}]
    assert project["readme"] == "README.md"  # the long description
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in project["classifiers"])
    assert not any(c.startswith("License ::") for c in project["classifiers"])  # PEP 639: the expression only


def test_the_first_install_needs_no_extra():
    """The Quickstart's first command installs no extra: the main job runs on the dependencies alone."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert sorted(d.split(">")[0].split("=")[0] for d in project["dependencies"]) == ["numpy", "torch", "tqdm"]
