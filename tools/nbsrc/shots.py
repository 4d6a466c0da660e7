import sys, threading, http.server, functools, socketserver
from playwright.sync_api import sync_playwright
root = sys.argv[1]; pages = sys.argv[2:]
class Q(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
srv = socketserver.TCPServer(("127.0.0.1", 0), functools.partial(Q, directory=root)); port = srv.server_address[1]
threading.Thread(target=srv.serve_forever, daemon=True).start()
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless","--no-sandbox","--disable-gpu","--disable-background-networking"])
    pg = b.new_page(viewport={"width": 1280, "height": 900})
    msgs = []
    pg.on("console", lambda m: msgs.append(f"{m.type}: {m.text}"))
    pg.on("response", lambda r: msgs.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    pg.on("requestfailed", lambda r: msgs.append(f"FAILED {r.url}"))
    for page in pages:
        pg.goto(f"http://127.0.0.1:{port}/{page}", wait_until="networkidle")
        pg.wait_for_timeout(1500)
        out = "/tmp/shot_" + page.replace("/", "_") + ".png"
        pg.screenshot(path=out, full_page=True)
        print(out, pg.evaluate("document.querySelectorAll('mjx-container').length"), "mathjax nodes")
    print("\n".join(msgs))
    b.close()
srv.shutdown()
