"""Headless-Chromium page loads for the HTML report's browser tests (the product only takes
screenshots: reports/report_browser.py)."""
from typing import List, Tuple

from reports.report_browser import headless_run


def dump_dom(html_path: str, timeout: float = 120) -> Tuple[str, List[str]]:
    """(the DOM after load, the page's console lines) from one headless load."""
    result = headless_run(html_path, ["--enable-logging=stderr", "--v=0", "--dump-dom"], timeout)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console
