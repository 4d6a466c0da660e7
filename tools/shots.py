"""Full-page screenshots of a built site in headless Chromium (a look before shipping).

Serves SITE over HTTP on a free local port, opens each PAGE (a path relative to SITE),
waits for the network to go idle, and saves ``/tmp/shot_<page>.png``. Prints, per
page, the number of rendered MathJax nodes, then every console message, failed
request and HTTP error seen. Needs Playwright and a Chromium at /usr/bin/chromium.

Usage (from the repository root, after ``./book.sh build``)::

    python tools/shots.py _build/html intro.html notebooks/01_training_basics.html
"""

import functools
import http.server
import socketserver
import sys
import threading

from playwright.sync_api import sync_playwright


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main(root, pages):
    handler = functools.partial(QuietHandler, directory=root)
    srv = socketserver.TCPServer(("127.0.0.1", 0), handler)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
            ],
        )
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        msgs = []
        pg.on("console", lambda m: msgs.append(f"{m.type}: {m.text}"))
        pg.on(
            "response",
            lambda r: (
                msgs.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None
            ),
        )
        pg.on("requestfailed", lambda r: msgs.append(f"FAILED {r.url}"))
        for page in pages:
            pg.goto(f"http://127.0.0.1:{port}/{page}", wait_until="networkidle")
            pg.wait_for_timeout(1500)
            out = "/tmp/shot_" + page.replace("/", "_") + ".png"
            pg.screenshot(path=out, full_page=True)
            n_math = pg.evaluate("document.querySelectorAll('mjx-container').length")
            print(out, n_math, "mathjax nodes")
        print("\n".join(msgs))
        browser.close()
    srv.shutdown()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
