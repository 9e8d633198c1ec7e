"""One full application in a real browser: headless Chromium (Debian's ``chromium``)
driven by Playwright, against the application served by werkzeug on loopback with a
database of its own (migrated, demo data loaded).

The applicant logs in, finds the licence service in the catalogue, fills the form
partly with the keyboard (Tab, typing, Space), attaches a PDF, submits, reads the
tracking number on the confirmation page and opens the status page. Staff then approve
on the route, the decision is made and sealed, and the applicant downloads it from the
status page: our verifier says it passes, and /verify finds its code.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import close_all_sessions
from werkzeug.serving import make_server

import signing
from edms import create_app, migrate
from edms.auth import services as auth
from edms.auth.models import Role
from edms.db import db, utcnow
from edms.portal.models import ApplicantProfile
from tests.edms.portal.conftest import approve_all
from tests.signing.pdfs import minimal_pdf

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
USERNAME = "nodira"
PASSWORD = "a-long-applicant-password"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        sync_playwright is None,
        reason="playwright is not installed (pip install -e '.[dev]'; the browser is "
        "Debian's chromium, never downloaded)",
    ),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
    ),
]


@dataclass
class LiveServer:
    url: str
    app: Any


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The real application on 127.0.0.1 and a free port, in a background thread."""
    from edms.demo import load_demo
    from edms.search.runner import stop_indexer

    database_url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    migrate.upgrade(database_url)
    app = create_app(
        {
            "data_dir": str(tmp_path / "data"),
            "database_url": database_url,
            "secret_key": "browser-test-secret-key-0123456789",
            "default_locale": "en",
            "languages": ["en", "ru", "uz"],
            "log_level": "WARNING",
            "scheduler": "off",
            "session_cookie_secure": False,  # plain http on loopback
        }
    )
    with app.app_context():
        load_demo()
        user = auth.create_user(
            USERNAME, [Role.APPLICANT], password=PASSWORD, full_name="Nodira Alieva"
        )
        user.email = "nodira@example.uz"
        db.session.add(
            ApplicantProfile(user_id=user.id, pinfl="41234567890123", confirmed_at=utcnow())
        )
        db.session.commit()
        db.session.remove()
    server = make_server("127.0.0.1", _free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=30)
        server.server_close()
        stop_indexer(app, timeout=60)
        close_all_sessions()
        app.extensions["edms.db"]["engine"].dispose()


@pytest.fixture
def page(live_server: LiveServer) -> Iterator[Page]:
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu"],
            headless=True,
        )
        try:
            context = browser.new_context(locale="en-GB", base_url=live_server.url)
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
            context.close()
        finally:
            browser.close()


def _focused(page: Page) -> Any:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_one_full_application_in_a_browser(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    # Log in with the keyboard.
    page.goto("/login?next=/portal/")
    page.get_by_label("User name").focus()
    page.keyboard.type(USERNAME)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/portal/$"))

    # The catalogue: find the licence service and start.
    expect(page.get_by_role("heading", level=1)).to_have_text("Public services")
    page.get_by_role("link", name="Application for a licence").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Application for a licence")
    expect(page.get_by_text("Founding document (charter)")).to_be_visible()
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url(re.compile(r"/portal/applications/[0-9a-f-]{36}/edit$"))

    # Submitting with nothing filled in: the browser itself says what is missing first.
    page.get_by_role("button", name="Submit the application").click()
    assert page.evaluate("document.querySelector('#application-form').checkValidity()") is False
    assert re.search(r"/edit$", page.url)

    # The form, partly with the keyboard.
    page.get_by_label("Myself, Nodira Alieva").check()
    page.get_by_label("Kind of activity").select_option("pharmacy")
    page.get_by_label("Description of the activity").focus()
    page.keyboard.type("A retail pharmacy.")
    page.keyboard.press("Tab")
    assert _focused(page) == "field-address"
    page.keyboard.type("Toshkent sh., Yunusobod t., Amir Temur ko'chasi, 108")
    page.get_by_label("Start date of the activity").fill("2026-12-01")
    page.get_by_label("Number of employees").focus()
    page.keyboard.type("12")
    page.keyboard.press("Tab")
    assert _focused(page) == "field-contact_phone"
    page.keyboard.type("+998901234567")
    page.keyboard.press("Tab")
    assert _focused(page) == "field-contact_email"
    page.keyboard.type("info@dorixona.uz")
    page.keyboard.press("Tab")
    assert _focused(page) == "field-agree"
    page.keyboard.press("Space")
    expect(
        page.get_by_label("I undertake to meet the licence requirements and conditions")
    ).to_be_checked()

    # An executable that calls itself a PDF: the error summary takes the focus, names
    # the field and leads to it; what was typed is kept.
    fake = tmp_path / "fake" / "charter.pdf"
    fake.parent.mkdir()
    fake.write_bytes(b"MZ\x90\x00\x03" + bytes(300))
    page.set_input_files("#attachment-charter", str(fake))
    page.get_by_role("button", name="Save draft").last.click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    link = summary.get_by_role("link")
    expect(link).to_have_text(re.compile(r"^Founding document \(charter\): a PDF file is needed"))
    link.click()
    assert _focused(page) == "attachment-charter"
    expect(page.get_by_label("Address of the premises")).to_have_value(
        "Toshkent sh., Yunusobod t., Amir Temur ko'chasi, 108"
    )
    expect(page.get_by_label("Myself, Nodira Alieva")).to_be_checked()

    # A small real PDF.
    pdf = tmp_path / "charter.pdf"
    pdf.write_bytes(minimal_pdf())
    page.set_input_files("#attachment-charter", str(pdf))

    page.get_by_role("button", name="Submit the application").click()
    page.wait_for_url(re.compile(r"/portal/applications/AP-[0-9A-Z]{4}-[0-9A-Z]{4}/submitted$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Application submitted")
    number = page.locator("#tracking-number").inner_text()
    assert re.fullmatch(r"AP-[0-9A-Z]{4}-[0-9A-Z]{4}", number)
    assert number in page.url
    expect(page.get_by_role("heading", name="What happens next")).to_be_visible()

    # The status page.
    page.get_by_role("link", name="Follow your application").click()
    page.wait_for_url(re.compile(rf"/portal/applications/{number}$"))
    expect(page.locator("#current-step")).to_have_text("Review")
    expect(page.get_by_text("Under review")).to_be_visible()
    expect(page.locator("#due-date time")).to_have_attribute(
        "datetime", re.compile(r"\d{4}-\d{2}-\d{2}")
    )
    expect(page.get_by_text("The application was submitted and registered as IN-")).to_be_visible()

    # Staff approve on the route; the decision is written, registered and sealed (the
    # scheduler's job, run here directly); the applicant downloads it in the browser.
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed: no decision PDF can be made")
    _in_thread(_decide_everything, live_server.app, number)
    page.reload()
    expect(page.get_by_text("Granted", exact=True)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download the decision")).click()
    saved = tmp_path / "decision.pdf"
    download.value.save_as(saved)
    code = page.locator("#verification-code").inner_text().strip()
    report = _in_thread(_verify, live_server.app, saved)
    assert [s.indication for s in report.signatures] == ["TOTAL_PASSED"]
    page.goto(f"/verify?code={code}")
    # The public page names the decision by its registration number, never the title.
    expect(page.get_by_text(re.compile(r"OUT-\d{4}/\d{6}")).first).to_be_visible()
    expect(page.get_by_text("Ministry (demo) (e-seal)").first).to_be_visible()


def _in_thread(func: Any, *args: Any) -> Any:
    """Run ``func`` in a thread of its own: Playwright's sync API keeps an event loop
    running in this one, and pyHanko starts its own."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(func(*args))
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=300)
    if errors:
        raise errors[0]
    return result[0]


def _verify(app: Any, path: Path) -> Any:
    from edms.signing import services as signatures

    with app.app_context(), path.open("rb") as fh:
        return signing.verify(fh, signatures.trust_store())


def _decide_everything(app: Any, number: str) -> None:
    """Every open task of the application's route approved by its assignee, then the
    decision made, as the scheduler's job would."""
    from edms.portal import services as portal
    from edms.portal.models import Application
    from edms.routing import services as routing

    with app.app_context():
        application = db.session.scalar(
            select(Application).where(Application.tracking_number == number)
        )
        assert application is not None
        approve_all(routing.current_instance(application.document))
        portal.make_decision(application.id)
        db.session.commit()
        db.session.remove()
