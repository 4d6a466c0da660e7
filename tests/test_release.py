"""Release metadata agrees with itself: one version everywhere, a changelog entry for it,
the licence the package declares, and dependency floors that are the tested ones.

The version lives in ``lrbook/__init__.py`` (``__version__``); CITATION.cff, the BibTeX
entry on the introduction and CHANGELOG.md must follow it (README, "Releasing").
"""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

import lrbook

ROOT = Path(__file__).resolve().parent.parent
VERSION = lrbook.__version__
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def changelog_sections():
    """{version: date} of every released section of CHANGELOG.md (``## [X.Y.Z] - YYYY-MM-DD``)."""
    text = (ROOT / "CHANGELOG.md").read_text()
    return dict(
        re.findall(
            r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})\s*$",
            text,
            flags=re.MULTILINE,
        )
    )


def test_version_is_semver():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION


def test_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    for key in (
        "cff-version",
        "message",
        "title",
        "authors",
        "version",
        "date-released",
        "license",
        "repository-code",
    ):
        assert cff.get(key), f"CITATION.cff: missing {key}"
    assert cff["cff-version"] == "1.2.0"
    assert all("name" in a or "family-names" in a for a in cff["authors"]), cff[
        "authors"
    ]
    assert str(cff["version"]) == VERSION, (
        f"CITATION.cff version {cff['version']} != lrbook {VERSION}"
    )
    assert cff["license"] == PYPROJECT["project"]["license"]
    assert str(cff["date-released"]) == changelog_sections().get(VERSION), (
        "CITATION.cff date-released must be the changelog's date of this version"
    )


def test_intro_bibtex_carries_the_version():
    intro = (ROOT / "book" / "intro.md").read_text()
    block = re.search(r"```bibtex\n(.*?)```", intro, flags=re.DOTALL)
    assert block, "book/intro.md: no ```bibtex block (Cite this book)"
    fields = dict(
        re.findall(
            r"^\s*(\w+)\s*=\s*\{(.*)\},?\s*$", block.group(1), flags=re.MULTILINE
        )
    )
    assert fields.get("version") == VERSION, (
        f"intro BibTeX version {fields.get('version')} != lrbook {VERSION}"
    )
    assert f"Version {VERSION}," in fields.get("note", "")


def test_changelog_has_the_current_version():
    sections = changelog_sections()
    assert VERSION in sections, (
        f"CHANGELOG.md: no '## [{VERSION}] - YYYY-MM-DD' section"
    )
    text = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(
        rf"^\[{re.escape(VERSION)}\]: https://", text, flags=re.MULTILINE
    ), f"CHANGELOG.md: no link for [{VERSION}]"


def test_license_is_apache_2():
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"], text[:200]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]


def test_prose_licence_stated():
    for path in (ROOT / "README.md", ROOT / "book" / "intro.md"):
        assert "CC BY 4.0" in path.read_text(), (
            f"{path.name}: the prose and figures' licence (CC BY 4.0)"
        )


def pins(path):
    """{name: version} of the ``name==version`` lines of a requirements file."""
    lines = (ROOT / path).read_text().splitlines()
    return {
        m[1].lower(): m[2]
        for line in lines
        if (m := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line))
    }


def floors():
    """{name: floor} of pyproject.toml's dependencies (every one has a ``>=`` floor)."""
    out = {}
    for dep in PYPROJECT["project"]["dependencies"]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([^,;\s]+)", dep.replace(" ", ""))
        assert m, (
            f"pyproject.toml: {dep!r} needs a plain '>=' floor (tools/lowest_versions.sh tests it)"
        )
        out[m[1].lower()] = m[2]
    return out


def test_floors_are_the_tested_versions():
    from packaging.version import Version

    tested = pins("tools/constraints-lowest.txt")
    for name, floor in floors().items():
        assert name in tested and Version(tested[name]) == Version(floor), (
            f"pyproject.toml says {name}>={floor}; tools/constraints-lowest.txt tests {name}=={tested.get(name)}"
        )
    assert "tensorflow-cpu" in tested, (
        "the constraints name the TensorFlow that pairs with the Keras floor"
    )


@pytest.mark.parametrize("path", ["tools/colab-versions.txt", "requirements.txt"])
def test_pinned_sets_satisfy_the_floors(path):
    from packaging.version import Version

    pinned = pins(path)
    for name, floor in floors().items():
        assert name in pinned, f"{path}: no pin for {name}"
        assert Version(pinned[name]) >= Version(floor), (
            f"{path}: {name}=={pinned[name]} is below {floor}"
        )


def test_every_install_line_names_the_current_release():
    """Colab cells and the intro install the release the book was built with, never a branch."""
    tag = f"git+https://github.com/lrbook/lrbook@v{VERSION}"
    chapters = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert chapters
    for path in [
        *chapters,
        *sorted((ROOT / "notebooks").glob("*.md")),
        ROOT / "book" / "intro.md",
    ]:
        text = path.read_text()
        lines = re.findall(r"lrbook @ git\+[^\\\"'\s]*", text)
        assert lines, f"{path.name}: no install line"
        assert all(line == f"lrbook @ {tag}" for line in lines), (
            f"{path.name}: {lines} (want v{VERSION})"
        )


def test_extras_are_declared_with_floors_the_pins_satisfy():
    """lrbook.search and lrbook.quantize need an extra (their ImportError names it):
    each is declared with a '>=' floor, and requirements.txt (what the book's tests run)
    pins a version at or above it."""
    from packaging.version import Version

    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"search", "quantize", "book"} <= set(extras), sorted(extras)
    pinned = pins("requirements.txt")
    # What an extra may add beside its package: six, which keras-tuner imports without
    # declaring it (TensorFlow brings it; on JAX or PyTorch nothing does).
    helpers = {"search": [r"six>=1\.16\.0"], "quantize": []}
    for extra, package in (("search", "keras-tuner"), ("quantize", "ai-edge-litert")):
        deps = [d.replace(" ", "") for d in extras[extra]]
        m = (
            re.fullmatch(rf"{package}>=([^,;\s]+)", deps[0])
            if len(deps) == 1 + len(helpers[extra])
            and all(re.fullmatch(h, d) for h, d in zip(helpers[extra], deps[1:]))
            else None
        )
        assert m, (
            f"pyproject.toml: extra {extra!r} should be ['{package}>=FLOOR'], is {extras[extra]}"
        )
        assert package in pinned and Version(pinned[package]) >= Version(m[1]), (
            f"requirements.txt pins {package}=={pinned.get(package)}, below the floor {m[1]}"
        )
