"""Take the README's screenshots from a running demo (`make demo` in another terminal).

    .venv/bin/python scripts/screenshots.py [--base http://127.0.0.1:8000] [--out docs/img]
"""

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default="docs/img")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 820})
        page.goto(f"{args.base}/accounts/login/")
        page.fill("input[name=username]", "agent1")
        page.fill("input[name=password]", "sac-demo")
        page.click("button[type=submit]")
        page.goto(f"{args.base}/t/acme/?view=all")
        page.wait_for_selector(".case-row")
        page.screenshot(path=str(out / "inbox.png"))
        page.goto(f"{args.base}/t/acme/")
        page.click("#claim-next")
        page.wait_for_selector("#canned-select")
        page.select_option("#canned-select", index=1)
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "case.png"))
        page.goto(f"{args.base}/accounts/login/")
        supervisor = browser.new_page(viewport={"width": 1360, "height": 1100})
        supervisor.goto(f"{args.base}/accounts/login/")
        supervisor.fill("input[name=username]", "supervisor")
        supervisor.fill("input[name=password]", "sac-demo")
        supervisor.click("button[type=submit]")
        supervisor.goto(f"{args.base}/t/acme/sla/")
        supervisor.wait_for_selector("#sla-period")
        supervisor.screenshot(path=str(out / "dashboard.png"))
        browser.close()
    print(f"wrote {out / 'inbox.png'}, {out / 'case.png'} and {out / 'dashboard.png'}")


if __name__ == "__main__":
    main()
