import pytest


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Debian's Chromium, not a browser Playwright downloads (never run `playwright install`)."""
    return {
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def page(page):
    page.set_default_timeout(5000)
    return page


@pytest.fixture
def js_errors(page):
    """JavaScript errors and blocked resources (a CSP violation is a console error), not the missing favicon."""
    errors = []

    def console(message):
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors
