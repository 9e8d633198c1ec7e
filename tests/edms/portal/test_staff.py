"""The portal as staff see it: the application on the document page, asking the
applicant for more information, and the administrators' catalogue pages."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from edms.auth import services as auth
from edms.auth.models import Role, User
from edms.db import db
from edms.portal.models import ApplicationStatus, ServiceDefinition
from tests.conftest import csrf_token, login
from tests.edms.portal.test_services import _submitted, applicant  # noqa: F401 - fixture
from tests.edms.routing.conftest import Org
from tests.edms.routing.conftest import definitions as definitions
from tests.edms.routing.conftest import org as org


def test_the_document_page_shows_the_application_and_asks_for_more(
    client: FlaskClient,
    catalogue: dict[str, ServiceDefinition],
    applicant: User,  # noqa: F811
    org: Org,
) -> None:
    application = _submitted(applicant, catalogue["licence_request"])
    doc = application.document
    assert doc is not None
    login(client, org.licensor)  # reviews it on the route
    page = client.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert application.tracking_number in page
    assert "Savdo MChJ" in page
    assert "charter.pdf" in page
    assert "301234567" not in page.split("<main", 1)[-1].split("Application from the portal")[-1]
    file_id = application.files[0].id
    download = client.get(f"/documents/{doc.id}/application-files/{file_id}")
    assert download.status_code == 200
    assert download.data.startswith(b"%PDF")
    download.close()
    token = csrf_token(client, f"/documents/{doc.id}")
    empty = client.post(f"/documents/{doc.id}/information-request", data={"csrf_token": token})
    assert empty.status_code == 302
    db.session.expire_all()
    assert application.status == ApplicationStatus.SUBMITTED  # nothing asked
    asked = client.post(
        f"/documents/{doc.id}/information-request",
        data={"csrf_token": token, "message": "Attach the lease <b>contract</b>."},
    )
    assert asked.status_code == 302
    db.session.expire_all()
    assert application.status == ApplicationStatus.INFORMATION_REQUESTED
    page = client.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert "Attach the lease &lt;b&gt;contract&lt;/b&gt;." in page


def test_strangers_see_neither_the_document_nor_its_files(
    client: FlaskClient,
    catalogue: dict[str, ServiceDefinition],
    applicant: User,  # noqa: F811
    org: Org,
) -> None:
    application = _submitted(applicant, catalogue["licence_request"])
    doc = application.document
    assert doc is not None
    login(client, org.outsider)
    assert client.get(f"/documents/{doc.id}").status_code == 404
    url = f"/documents/{doc.id}/application-files/{application.files[0].id}"
    assert client.get(url).status_code == 404
    login(client, applicant)  # the applicant sees the portal, not the registry
    assert client.get(f"/documents/{doc.id}").status_code in (403, 404)
    assert client.get(url).status_code in (403, 404)


def test_the_catalogue_pages_are_for_administrators(
    client: FlaskClient,
    catalogue: dict[str, ServiceDefinition],
    org: Org,
    make_user: Any,
) -> None:
    login(client, org.clerk)
    assert client.get("/admin/services").status_code == 403
    admin = make_user(Role.ADMIN, org.departments["MIN"], "catalogueadmin")
    login(client, admin)
    listing = client.get("/admin/services").get_data(as_text=True)
    assert "licence_request" in listing
    page = client.get("/admin/services/licence_request")
    assert page.status_code == 200
    text = catalogue["licence_request"].text
    token = csrf_token(client, "/admin/services/licence_request")
    broken = client.post(
        "/admin/services/licence_request",
        data={"csrf_token": token, "definition": text.replace("term_days: 15", "term_days: 0")},
    )
    assert broken.status_code == 422
    assert "term_days" in broken.get_data(as_text=True)
    saved = client.post(
        "/admin/services/licence_request",
        data={"csrf_token": token, "definition": text.replace("term_days: 15", "term_days: 20")},
    )
    assert saved.status_code == 302
    withdrawn = client.post(
        "/admin/services/licence_request/active", data={"csrf_token": token, "active": "0"}
    )
    assert withdrawn.status_code == 302
    assert client.get("/portal/services/licence_request").status_code == 404
    assert auth.get_user("catalogueadmin") is admin
