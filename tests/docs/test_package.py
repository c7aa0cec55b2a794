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


def test_ci_runs_the_readme_quickstart_as_written():
    """.ci/run's install and test lines are the README Quickstart's two commands (the main job run in a
    scratch directory), so neither can change without the other."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quickstart", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    first, second = block.strip().splitlines()
    install, job = first.split(" && ")
    assert job == "mygpt train" and "[test]" not in install
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert f'{install} && (cd "$(mktemp -d)" && {job}) || exit 1' in ci
    assert second in ci and second.endswith("python -m pytest") and "[test]" in second
