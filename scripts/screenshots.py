"""Take a screenshot of each page of a running web app (inbox, dashboard, a sequence, a family).

    make run                                   # prints the web app's address and a login
    .venv/bin/python scripts/screenshots.py --password PASSWORD [--name admin]
        [--url http://127.0.0.1:8080] [--out screenshots]

Signs in with headless Chromium (Debian's `chromium`, driven by Playwright; nothing is
downloaded), saves `inbox.png`, `dashboard.png`, `sequence.png` and `family.png` under
`--out`, and prints each file. The sequence and family shown are the first the inbox or
the dashboard links to; a page with nothing to link to is left out with a line saying so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--name", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    return parser.parse_args(argv)


async def take(args: argparse.Namespace) -> list[Path]:
    from playwright.async_api import async_playwright

    base = args.url.rstrip("/")
    args.out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1300, "height": 900})
            await page.goto(f"{base}/login")
            await page.fill('#login input[name="name"]', args.name)
            await page.fill('#login input[name="password"]', args.password)
            await page.click('#login button[type="submit"]')
            said = await page.locator("#flash").inner_text()
            if not said.startswith(f"signed in as {args.name}"):
                raise SystemExit(f"sign-in refused: {said}")
            for name, path in await _pages(page, base):
                await page.goto(f"{base}{path}")
                target = args.out / f"{name}.png"
                await page.screenshot(path=str(target), full_page=True)
                saved.append(target)
        finally:
            await browser.close()
    return saved


async def _pages(page: object, base: str) -> list[tuple[str, str]]:
    """The pages to photograph: inbox and dashboard, and the first sequence and family."""
    from playwright.async_api import Page

    assert isinstance(page, Page)
    pages = [("inbox", "/"), ("dashboard", "/dashboard")]
    await page.goto(f"{base}/")
    sequence = await _first_link(page, 'a[href^="/sequences/"]')
    if sequence is None:
        print("no sequence in the inbox: sequence.png and family.png left out", file=sys.stderr)
        return pages
    pages.append(("sequence", sequence))
    await page.goto(f"{base}{sequence}")
    family = await _first_link(page, 'a[href^="/families/"]')
    if family is not None:
        pages.append(("family", family))
    return pages


async def _first_link(page: object, selector: str) -> str | None:
    from playwright.async_api import Page

    assert isinstance(page, Page)
    links = page.locator(selector)
    return await links.first.get_attribute("href") if await links.count() else None


def main(argv: list[str] | None = None) -> None:
    for path in asyncio.run(take(parse(argv))):
        print(path)


if __name__ == "__main__":
    main()
