"""Headless Chromium for the HTML report: a screenshot for people, the DOM and console log
for tests. Every network feature is off, so a page that needs the network shows it."""
import os
import shutil
import subprocess
import tempfile
from typing import List, Optional
from contract.errors import UserError

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class BrowserError(UserError, RuntimeError):
    pass


def chromium_binary() -> Optional[str]:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def headless_run(html_path: str, extra: List[str], timeout: float) -> subprocess.CompletedProcess:
    binary = chromium_binary()
    if binary is None:
        raise BrowserError("no chromium on PATH (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [binary, *FLAGS, f"--user-data-dir={profile}", *extra,
                   "file://" + os.path.abspath(html_path)]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)


def screenshot(html_path: str, png_path: str, width: int = 1200, height: int = 3000,
               timeout: float = 120) -> str:
    """Writes a PNG of the page as rendered; its path."""
    png_path = os.path.abspath(png_path)
    result = headless_run(
        html_path, [f"--screenshot={png_path}", f"--window-size={width},{height}"], timeout)
    if not os.path.exists(png_path):
        raise BrowserError(f"chromium wrote no screenshot (exit {result.returncode}): "
                           f"{result.stderr[-500:]}")
    return png_path
