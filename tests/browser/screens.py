"""Each public and subscriber page at a phone's and a laptop's width: no horizontal scroll, and a screenshot in
test-results/screenshots/<page>-<width>.png for people to look at (the folder is not committed)."""

from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
WIDTHS = (390, 1366)
HEIGHT = {390: 844, 1366: 900}


def horizontal_overflow(page):
    """How many CSS pixels the page is wider than the window (0 when nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def shoot(page, name, width):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True, timeout=60_000)


def check_page(page, name, *, url=None, html=None):
    """Open ``url`` (or show ``html``) at each width; fails naming the page and width that scrolls sideways."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT[width]})
        if url is not None:
            page.goto(url)
        else:
            page.set_content(html)
        overflow = horizontal_overflow(page)
        shoot(page, name, width)
        assert overflow <= 0, f"{name} at {width} px scrolls sideways by {overflow} px"


def check_current(page, name):
    """The page as it is now (after a POST, say), at each width, without loading it again."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT[width]})
        overflow = horizontal_overflow(page)
        shoot(page, name, width)
        assert overflow <= 0, f"{name} at {width} px scrolls sideways by {overflow} px"
