"""The Dagster UI in a real browser: `dagster dev` on the sample data, driven by headless Chromium.

Debian's Chromium (``/usr/bin/chromium``; ``make browser`` or ``tests/ui/install_browser.sh`` installs it when
missing) is driven by Playwright for Python, pointed at that browser: Playwright's own browser downloads are
not used. ``dagster dev -w workspace.yaml`` runs with ``OPS_ENV=local`` in a temporary ``DAGSTER_HOME`` (the
project's dagster.yaml) and data folder, on a free port, as a child process group that teardown stops.

The tests open the asset graph, check the code location loaded with no error shown, materialize
``raw_news_events`` from the graph (it polls the bundled sample feeds: seconds) and read the run's success and the
asset's metadata (the feeds' health table) in the UI. On failure a screenshot and the tail of the server's log
are written beside the test's tmp folder and named in the failure message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_SCRIPT = Path(__file__).with_name("install_browser.sh")

# This machine has two shared cores: the server takes about a minute to load, a run about as long to start.
SERVER_START_S = 300
RUN_FINISH_S = 300
UI_TIMEOUT_MS = 90_000

ASSET = "raw_news_events"
# A past day of the daily partitions, inside the 90 days the launch dialog lists: the every-minute news schedule
# (running in `dagster dev`) only ever materializes the current day, so this partition's metadata can only come
# from the run this test launches.
PARTITION = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
SAMPLE_FEEDS = ("marketwire", "streetdesk", "tickertape")

ERROR_TEXTS = re.compile(
    r"Error loading|Could not load|Failed to load|PythonError|Something went wrong|Unexpected error|"
    r"code location (?:failed|errored)",
    re.IGNORECASE,
)

LOCATION_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def ensure_chromium() -> Path:
    """The installed Chromium, installing it through the project's script when missing; fails, never skips."""
    if not CHROMIUM.exists():
        result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900)
        if result.returncode != 0 or not CHROMIUM.exists():
            pytest.fail(
                f"The browser test needs Debian's Chromium at {CHROMIUM} and could not install it "
                f"({INSTALL_SCRIPT}, exit {result.returncode}): {(result.stderr or result.stdout)[-1500:]}\n"
                "Run `make browser` as root (apt-get install chromium chromium-driver), then run the test again."
            )
    return CHROMIUM


@dataclass
class DagsterDev:
    url: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def graphql(self, query: str) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def locations(self) -> list[dict]:
        return self.graphql(LOCATION_QUERY)["data"]["workspaceOrError"]["locationEntries"]


def wait_until_loaded(server: DagsterDev) -> None:
    """Until the webserver answers and every code location has finished loading (or the process died)."""
    deadline = time.monotonic() + SERVER_START_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"dagster dev exited with {server.process.returncode} while starting:\n{server.log_tail()}")
        try:
            entries = server.locations()
            last = repr(entries)
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            last = repr(exc)
        time.sleep(2)
    pytest.fail(f"dagster dev did not load within {SERVER_START_S} s (last answer: {last}):\n{server.log_tail()}")


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C for `dagster dev` (it then stops its webserver, daemon and code servers), then the whole group."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
    # Whatever is left of the group (a code server or run worker that outlived its parent) goes too.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    ensure_chromium()
    root = tmp_path_factory.mktemp("dagster-dev")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPHA_VANTAGE_", "OPS_"))}
    env.update(
        OPS_ENV="local",
        OPS_DATA_DIR=str(root / "data"),
        DAGSTER_HOME=str(home),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    log = root / "dagster_dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: teardown stops everything it started
        )
    server = DagsterDev(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        wait_until_loaded(server)
        yield server
    finally:
        stop(process)


@pytest.fixture
def page(dagster_dev: DagsterDev) -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is not installed: `make setup` installs the dev extra (playwright).")
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(ensure_chromium()), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(UI_TIMEOUT_MS)
            # Dagster greets a new browser with a newsletter dialog over the page; wave it away whenever it shows.
            page.add_locator_handler(
                page.get_by_text("Join the Dagster community"), lambda: page.get_by_role("button", name="Skip").click()
            )
            yield page
        finally:
            browser.close()


@contextmanager
def screenshot_on_failure(page, server: DagsterDev, tmp_path: Path, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException as exc:
        shot = tmp_path / f"{name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
        except Exception as shot_error:  # the browser itself may be what broke
            shot = Path(f"(no screenshot: {shot_error})")
        raise AssertionError(f"{exc}\nScreenshot: {shot}\ndagster dev log (tail):\n{server.log_tail()}") from exc


def assert_no_error_banner(page) -> None:
    text = page.locator("body").inner_text()
    found = ERROR_TEXTS.search(text)
    assert found is None, f"the UI shows an error: ...{text[max(0, found.start() - 200) : found.end() + 300]}..."


def test_asset_graph_and_code_location_load_without_errors(page, dagster_dev: DagsterDev, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with screenshot_on_failure(page, dagster_dev, tmp_path, "graph"):
        page.goto(f"{dagster_dev.url}/asset-groups")
        expect(page.get_by_text("Global asset lineage")).to_be_visible()
        # Every domain's group is drawn in the graph.
        for group in ("fundamentals", "news", "signals", "markets", "forecasting", "desk"):
            expect(page.get_by_text(group, exact=True).first).to_be_visible()
        assert_no_error_banner(page)

        page.goto(f"{dagster_dev.url}/locations")
        expect(page.get_by_text("1 code location", exact=True)).to_be_visible()
        expect(page.locator("a[href='/locations/ops_assets/']")).to_be_visible()
        expect(page.get_by_text(re.compile(r"^Loaded\b"))).to_be_visible()
        expect(page.get_by_text(re.compile(r"^Failed\b"))).to_have_count(0)
        assert_no_error_banner(page)

    [entry] = dagster_dev.locations()
    assert (entry["name"], entry["loadStatus"]) == ("ops_assets", "LOADED")
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry


def test_materialize_from_the_asset_graph_and_read_the_metadata(page, dagster_dev: DagsterDev, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with screenshot_on_failure(page, dagster_dev, tmp_path, "materialize"):
        # In the asset graph: open the news group (a double click on its node), select the asset, materialize it.
        page.goto(f"{dagster_dev.url}/asset-groups")
        graph = page.locator("svg")
        graph.get_by_text("news", exact=True).dblclick()
        graph.get_by_text(ASSET, exact=True).click()
        expect(page).to_have_url(re.compile(rf"/asset-groups/{ASSET}\b"))
        expect(page.get_by_text("View in Asset Catalog")).to_be_visible()
        page.get_by_role("button", name=re.compile(r"Materialize selected")).click()

        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text(f"Launch runs to materialize {ASSET}")).to_be_visible()
        selection = dialog.locator("input").first
        selection.fill(PARTITION)
        selection.press("Enter")
        dialog.get_by_role("button", name="Launch 1 run").click()

        launched = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
        expect(launched).to_be_visible()
        href = page.locator("a[href*='/runs/']", has_text="View").first.get_attribute("href")
        assert href is not None
        assert "/runs/" in href, href
        run_id = href.rsplit("/", 1)[-1]

        page.goto(f"{dagster_dev.url}/runs/{run_id}")
        expect(page.get_by_text(f"partition: {PARTITION}")).to_be_visible()
        # The run's status in its header: Success (never Failure) within the time a run takes here.
        expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_FINISH_S * 1000)
        expect(page.get_by_text("Failure", exact=True)).to_have_count(0)
        assert_no_error_banner(page)

        # The partition's latest materialization, as its page shows it: this run, and the feeds' health table.
        page.goto(f"{dagster_dev.url}/assets/{ASSET}?view=partitions&partition={PARTITION}")
        expect(page.get_by_role("link", name=run_id[:8]).first).to_be_visible()
        expect(page.get_by_text("feed_health", exact=True)).to_be_visible()
        # The Markdown table, rendered inside the metadata table (the innermost match).
        health = page.get_by_role("table").filter(has_text="failures in a row").last
        for header in ("feed", "this poll", "items", "last success", "failures in a row"):
            expect(health.get_by_role("columnheader", name=header, exact=True)).to_be_visible()
        for feed in SAMPLE_FEEDS:
            expect(health.get_by_role("cell", name=feed, exact=True)).to_be_visible()
        assert_no_error_banner(page)


def test_a_browser_that_cannot_be_installed_fails_the_test_saying_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No silent skip: without Chromium (and without a way to install it) the browser test fails, saying why."""
    refusing = tmp_path / "install_browser.sh"
    refusing.write_text("echo 'install_browser: run as root' >&2; exit 1\n")
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(sys.modules[__name__], "INSTALL_SCRIPT", refusing)
    with pytest.raises(pytest.fail.Exception, match=r"could not install it .*exit 1\): install_browser: run as root"):
        ensure_chromium()
