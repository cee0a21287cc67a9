"""Screenshots of the public status page for the docs: docs/screenshots/status-desktop.png
(1280 px) and status-phone.png (390 px), taken in headless Chromium from a daemon whose store
holds a demo incident, a resolved one, an upcoming maintenance and an announcement.

    .venv/bin/python docs/status_screenshots.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness import start_daemon, write_config  # noqa: E402
from tests.status_seed import seed_demo  # noqa: E402

# X without credentials: the banner about the primary platform makes no claim, as on a real
# page before X is known to be up.
CONFIG = """
[channels.x]
type = "x"
consumer_key = "${SHOT_X_KEY_UNSET}"
consumer_secret = "${SHOT_X_SECRET_UNSET}"
access_token = "${SHOT_X_TOKEN_UNSET}"
access_token_secret = "${SHOT_X_TOKEN_SECRET_UNSET}"

[channels.status]
type = "feed"
title = "Acme status"
description = "Is Acme up? Incidents, maintenance and news, even when our other channels are down."
profiles = { Mastodon = "https://social.example/@acme" }

[routes.default]
tiers = [["x"], ["status"]]
"""
SHOTS = {"status-desktop.png": 1280, "status-phone.png": 390}


async def main(chromium: str, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        h = await start_daemon(write_config(Path(tmp), CONFIG))
        try:
            await seed_demo(h.daemon.store, h.daemon.clock.now())
            post = await h.post(text="Our status page now shows every incident and its updates.")
            await h.wait_state(post["id"], "delivered")
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                for name, width in SHOTS.items():
                    page = await browser.new_page(viewport={"width": width, "height": 900},
                                                  timezone_id="Europe/Berlin")  # fmt: skip
                    await page.goto(h.url + "/status/")
                    await page.wait_for_load_state("networkidle")
                    await page.screenshot(path=str(target / name), full_page=True)
                    print(f"{target / name}  ({width} px)")
                await browser.close()
        finally:
            await h.daemon.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    asyncio.run(main(args.chromium, args.out))
