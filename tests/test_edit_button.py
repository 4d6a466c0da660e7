"""The site's "Suggest edit" button opens the file a page is written in.

Chapter pages render executed notebooks (``notebooks/NN_name.ipynb``), but a chapter is
written in its paired MyST file (``notebooks/NN_name.md``). ``_config.yml`` gives the
theme an ``edit_page_url_template``; this renders it with the theme's own function, the
context the theme builds from ``repository``, and checks where every page's button goes.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
PAGES = re.findall(r"(?:root|file):\s*(\S+)", (ROOT / "_toc.yml").read_text())


def edit_url(pagename, suffix):
    """The URL the theme puts on a page's edit button (pydata-sphinx-theme's code path)."""
    # Jupyter Book's theme stack (requirements.txt): if the module moves, this must fail.
    from pydata_sphinx_theme import edit_this_page

    provider_url, user, repo = CONFIG["repository"]["url"].rstrip("/").rsplit("/", 2)
    # What sphinx-book-theme adds to html_context from `repository` (update_context_with_repository_info).
    context = dict(
        CONFIG["sphinx"]["config"]["html_context"],
        github_user=user,
        github_repo=repo,
        github_version=CONFIG["repository"]["branch"],
        github_url=provider_url,
        doc_path=CONFIG["repository"]["path_to_book"],
        page_source_suffix=suffix,
    )
    edit_this_page.setup_edit_url(None, pagename, "page.html", context, None)
    return context["get_edit_provider_and_url"]()


def test_buttons_are_on():
    assert CONFIG["html"]["use_edit_page_button"] is True
    assert CONFIG["html"]["use_issues_button"] is True


@pytest.mark.parametrize("page", PAGES)
def test_edit_button_opens_the_source_in_the_repository(page):
    # The site renders chapters from .ipynb (executed copies) and the other pages from .md.
    suffix = ".ipynb" if page.startswith("notebooks/") else ".md"
    provider, url = edit_url(page, suffix)
    assert provider == "GitHub"
    prefix = f"{CONFIG['repository']['url']}/edit/{CONFIG['repository']['branch']}/"
    assert url == f"{prefix}{page}.md"
    assert (ROOT / f"{page}.md").is_file(), (
        f"the edit button of {page} opens a file that does not exist"
    )
