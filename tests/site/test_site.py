"""The rendered site in a real browser (headless Chromium through Playwright).

They test the site named by ``LRBOOK_SITE``, never a leftover ``_build/html``, which may
be older than the sources. ``./book.sh test`` builds the quick-profile site first, then
runs them with ``LRBOOK_SITE=_build/html`` (its step 3). By hand::

    ./book.sh build --profile quick
    LRBOOK_SITE=_build/html pytest tests/site -rs

Without ``LRBOOK_SITE`` they skip, saying how to run them; with ``LRBOOK_SITE`` naming a
folder without ``index.html`` they fail (a collection error), and where Chromium is
missing they skip, saying so. Screenshots of every page go to ``_build/screenshots/``.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import socketserver
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE_ENV = os.environ.get("LRBOOK_SITE")
SITE = Path(SITE_ENV) if SITE_ENV else None
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
# Console messages every Jupyter Book v1 page prints, harmless (see the project brief).
KNOWN_NOISE = ("'THEBE_JS_URL' has already been declared", "Got invalid theme mode")

HOW_TO_RUN = (
    "run `./book.sh test` (it builds the quick-profile site, then sets LRBOOK_SITE), or "
    "`./book.sh build --profile quick` then `LRBOOK_SITE=_build/html pytest tests/site`"
)
if SITE is not None and not (SITE / "index.html").is_file():
    # Asked for a site that is not there: a typo or a failed build, never a skip.
    pytest.fail(
        f"LRBOOK_SITE={SITE_ENV} holds no index.html (no built site there); {HOW_TO_RUN}",
        pytrace=False,
    )

pytestmark = [
    pytest.mark.skipif(
        SITE is None,
        reason=f"LRBOOK_SITE is not set, so no site was built for these tests: {HOW_TO_RUN}",
    ),
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
    ),
]


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [c["file"] for c in part.get("chapters", [])]
    pages += [c["file"] for c in toc.get("chapters", [])]
    return pages


PAGES = toc_pages()
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = socketserver.TCPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
            ],
        )
        yield b
        b.close()


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" and not any(n in m.text for n in KNOWN_NOISE)
            else None
        ),
    )
    page.on(
        "pageerror",
        lambda e: (
            problems.append(f"page error: {e}")
            if not any(n in str(e) for n in KNOWN_NOISE)
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 and r.url.startswith("http://127.0.0.1")
            else None
        ),
    )
    response = page.goto(url, wait_until="networkidle")
    return page, response, problems


@pytest.mark.parametrize("doc", PAGES)
def test_page_loads_cleanly_with_images_and_math(browser, server, doc):
    page, response, problems = open_page(browser, f"{server}/{doc}.html")
    try:
        assert response.status == 200
        page.wait_for_function(
            "() => !window.MathJax || !MathJax.startup || MathJax.startup.promise",
            timeout=10_000,
        )
        page.wait_for_timeout(500)
        broken = page.evaluate(
            "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        assert broken == [], f"{doc}: images that did not load: {broken}"
        html = page.content()
        has_math = "math notranslate" in html
        if has_math:
            rendered = page.evaluate(
                "() => document.querySelectorAll('mjx-container').length"
            )
            assert rendered > 0, f"{doc}: has math but MathJax rendered none"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SHOTS / (doc.replace("/", "_") + ".png")), full_page=True
        )
        assert problems == [], f"{doc}: " + "; ".join(problems)
    finally:
        page.close()


@pytest.mark.parametrize("doc", CHAPTERS)
def test_chapter_colab_badge_launch_button_run_record_and_download(
    browser, server, doc
):
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    expected = (
        f"https://colab.research.google.com/github/{repo}/blob/{CONFIG['repository']['branch']}/"
        f"{doc}.ipynb"
    )
    page, _, _ = open_page(browser, f"{server}/{doc}.html")
    try:
        badge = page.locator("article a:has(img[alt='Open in Colab'])").first
        assert badge.get_attribute("href") == expected
        launch = page.locator(f"a[href='{expected}']")
        assert launch.count() >= 2, (
            "the launch button (rocket menu) must point to Colab too"
        )
        record = page.locator("article p:has-text('Executed on')").last.inner_text()
        assert re.search(r"Executed on \d{4}-\d\d-\d\d at \d\d:\d\d UTC", record), (
            record
        )
        assert "lrbook " in record and "profile" in record, record
        edit = page.locator("a[href*='/edit/']").first.get_attribute("href")
        assert (
            edit
            == f"{CONFIG['repository']['url']}/edit/{CONFIG['repository']['branch']}/{doc}.md"
        ), edit
        download = page.locator("a[href$='.ipynb'][href*='_sources']").first
        href = download.get_attribute("href")
        result = page.request.get(f"{server}/{doc.rsplit('/', 1)[0]}/{href}")
        assert result.status == 200 and b'"cells"' in result.body()
    finally:
        page.close()


def test_search_finds_a_word_from_a_chapter(browser, server):
    page, _, _ = open_page(browser, f"{server}/search.html?q=Nesterov")
    try:
        page.wait_for_selector("#search-results li", timeout=15_000)
        hits = page.locator("#search-results li a").all_inner_texts()
        assert any(re.search("Training basics", h) for h in hits), hits
    finally:
        page.close()


# A chapter whose Exercises section is written (issue 18); every chapter gets one in time.
EXERCISE_PAGES = [
    "notebooks/01_training_basics",
    "notebooks/02_schedules",
    "notebooks/03_lr_finder",
    "notebooks/04_superconvergence",
    "notebooks/05_regularization",
    "notebooks/06_hyperparameter_search",
    "notebooks/07_distillation_compression",
    "notebooks/08_scaling_out",
]


@pytest.mark.parametrize("doc", EXERCISE_PAGES)
def test_exercises_render_and_solutions_stay_collapsed_until_clicked(
    browser, server, doc
):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page, _, problems = open_page(browser, f"{server}/{doc}.html")
    try:
        exercises = page.locator("div.exercise.admonition")
        solutions = page.locator("div.solution.admonition")
        n = exercises.count()
        assert n >= 3, f"{doc}: {n} exercises rendered"
        assert solutions.count() == n, f"{doc}: {solutions.count()} solutions for {n}"
        titles = exercises.locator(".admonition-title").all_inner_texts()
        # sphinx-exercise numbers exercises through the whole book: a page's are
        # consecutive, starting wherever the previous chapter's ended.
        numbers = [re.match(r"Exercise (\d+)", t) for t in titles]
        assert all(numbers), titles
        first = int(numbers[0].group(1))
        assert [int(m.group(1)) for m in numbers] == list(range(first, first + n)), (
            titles
        )
        # sphinx-togglebutton collapses every solution when the page loads: its title
        # (with the button) shows, its prose and code cells do not.
        buttons = solutions.locator("button.toggle-button")
        try:
            buttons.first.wait_for(timeout=10_000)
        except PlaywrightTimeout:
            pass
        assert buttons.count() == n, (
            f"{doc}: {buttons.count()} of {n} solutions got a toggle button "
            "(each needs `:class: dropdown` on its solution-start)"
        )
        for i in range(n):
            solution = solutions.nth(i)
            assert "toggle-hidden" in solution.get_attribute("class"), i
            assert solution.locator(".admonition-title").is_visible()
            body = solution.locator(".admonition-title ~ *").first
            assert not body.is_visible(), (
                f"{doc}: solution {i + 1} shows before a click"
            )
        first, second = solutions.nth(0), solutions.nth(1)
        code = first.locator(".cell_input").first
        assert code.count() == 1, f"{doc}: the first solution holds no code cell"
        assert not code.is_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        first.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "exercises_collapsed.png"))
        first.locator("button.toggle-button").click()
        code.wait_for(state="visible", timeout=5_000)
        assert "toggle-hidden" not in first.get_attribute("class")
        page.wait_for_timeout(600)  # the theme fades the opened content in
        page.screenshot(path=str(SHOTS / "exercises_expanded.png"))
        # opening one solution leaves the others closed
        assert not second.locator(".admonition-title ~ *").first.is_visible()
        assert problems == [], f"{doc}: " + "; ".join(problems)
    finally:
        page.close()
