"""Browser tests: Python Playwright driving Debian's Chromium against a live server on a freshly seeded database.

The server is the real app (`registry init` + `registry seed-demo` on a temporary SQLite file), served from a thread
with Werkzeug, so what runs is exactly what `make run` serves. Screenshots go to tests/browser/artifacts/.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

if not os.path.exists(CHROMIUM):
    # A developer without Debian's Chromium: say so instead of failing. CI installs it (.ci/run).
    pytest.skip(f"browser tests need {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}, "locale": "en-GB",
            "accept_downloads": True}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser_database(tmp_path_factory):
    """A database of its own (the server commits): a SQLite file, or a scratch PostgreSQL database on the
    PostgreSQL run (TEST_DATABASE_URL), dropped afterwards."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        yield f"sqlite:///{tmp_path_factory.mktemp('browser') / 'registry.sqlite3'}"
        return
    from tests.scratch import scratch_postgres_database

    with scratch_postgres_database(base, "browser") as url:
        yield url


@pytest.fixture(scope="session")
def live_server(browser_database):
    """The registry with its demo data, initialized the README's way, on a free loopback port."""
    from registry import create_app

    app = create_app({"DATABASE_URL": browser_database, "SECRET_KEY": "browser-tests-secret"})
    runner = app.test_cli_runner()
    for command in (["registry", "init"], ["registry", "seed-demo"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    app.extensions["registry.engine"].dispose()


@pytest.fixture(scope="session")
def base_url(live_server):
    # Replaces pytest-playwright's own fixture (deprecated under pytest 9): pages resolve "/..." against the server.
    return live_server


@pytest.fixture
def csp_violations(page):
    """Console messages about the Content-Security-Policy (there must be none: no inline script or style)."""
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    return found


def shoot(page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def log_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
