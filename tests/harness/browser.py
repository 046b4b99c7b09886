"""Headless Chromium from Debian's package, launched the same way by every browser test."""

from __future__ import annotations

import shutil
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


async def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium browser of ``playwright`` (an ``async_playwright()`` context)."""
    return await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
