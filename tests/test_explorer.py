"""The explorer in a real browser: Debian's Chromium driven by Playwright (no browser download).

Starts `solara run sim/explorer/app.py` on a free localhost port, loads the page, changes a control,
applies it, plays the model forward, and checks that the date and the plotted numbers change.
Skipped when the browser pieces are not installed (`.ci/run` installs them).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("playwright") is None
    or importlib.util.find_spec("solara") is None
    or not Path(CHROMIUM).exists(),
    reason="explorer extra (solara, playwright) or Debian's chromium not installed",
)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def explorer(tmp_path):
    port = _free_port()
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False", "MPLCONFIGDIR": str(tmp_path / "mpl")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "solara",
            "run",
            str(ROOT / "sim" / "explorer" / "app.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-open",
            "--production",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if server.poll() is not None:
            pytest.fail(f"solara exited: {server.stdout.read()}")
        time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("solara did not start within 120 s")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def _status(page) -> str:
    """The status line: date, policy and training-set size."""
    return page.locator("p", has_text="Date:").first.inner_text(timeout=60_000)


def _date_shown(page) -> str:
    return re.search(r"\d{4}-\d{2}-\d{2}", _status(page)).group(0)


def _wait_for_date(page, pattern: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not re.search(pattern, _date_shown(page)):
        assert time.monotonic() < deadline, f"date {_date_shown(page)} never matched {pattern}"
        time.sleep(0.5)


def test_explorer_loads_takes_a_control_steps_and_updates_its_plots(explorer, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        page.goto(explorer, timeout=120_000)
        page.get_by_text("Consent design explorer").first.wait_for(timeout=120_000)
        assert _date_shown(page) == "2024-09-01"

        # change a control (the region policy) and apply it with Reset
        page.get_by_text("linkedin_actual").first.click()
        page.get_by_role("option", name="forced_choice_everywhere").click()
        page.get_by_text("Every mechanism on:").first.click()  # every behaviour mechanism
        page.get_by_role("button", name="Reset").click()

        page.get_by_role("button", name="Step").click()
        page.locator("p", has_text="Policy:").first.wait_for(timeout=60_000)
        before = _status(page)

        page.get_by_role("button", name="▶").click()
        _wait_for_date(page, r"2024-(09-(2\d|30)|1\d-\d\d)", 120)
        page.get_by_role("button", name="❚❚").click()
        after = _status(page)

        assert "forced_choice_everywhere" in after
        assert after != before
        table = page.locator("table").first.inner_text()
        # past 2024-09-18, forced choice has asked visitors: some US members opted in or out
        us = next(line for line in table.splitlines() if line.startswith("US"))
        shares = [float(x) for x in re.findall(r"([\d.]+)%", us)]
        assert any(s > 0 for s in shares[1:]), us
        assert page.locator("img").count() >= 5  # the matplotlib figures, the behaviour panel among them
        shot = Path(os.environ.get("EXPLORER_SCREENSHOT", tmp_path / "explorer.png"))
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        browser.close()
