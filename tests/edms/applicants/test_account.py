"""The applicant's own account: details, PINFL, organisations; whom they may act for."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from edms.applicants import services
from edms.audit.models import AuditEvent
from edms.auth.models import Role, User
from edms.db import db
from edms.errors import NotFound, ValidationError
from edms.portal.models import ApplicantProfile, Membership, Organisation
from tests.conftest import csrf_token, login
from tests.edms.applicants.conftest import PINFL, TIN
from tests.edms.ui.conftest import Page, text_of

OTHER_TIN = "402345678"


def _post(client: FlaskClient, url: str, **data: str) -> TestResponse:
    return client.post(url, data={"csrf_token": csrf_token(client, "/portal/account"), **data})


def test_the_account_page_masks_identifiers(
    client: FlaskClient, make_applicant: Callable[..., User]
) -> None:
    user = make_applicant(pinfl=PINFL, tin=TIN, org_name="Valiyev LLC")
    login(client, user)
    reply = client.get("/portal/account")
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert PINFL not in html
    assert TIN not in html
    assert "**********0123" in html
    assert "*****4567" in html
    assert "ending in 0123" in html
    assert "Valiyev LLC" in html
    page = Page(html)
    assert page.h1_count == 1
    for _tag, attrs in page.controls():
        assert attrs["id"] in page.label_for, attrs
    assert len(page.ids()) == len(set(page.ids()))
    # The menu offers the account, not the registry.
    assert 'href="/portal/account"' in html
    assert 'href="/documents"' not in html


def test_changing_details_is_audited_by_field_name(
    ctx: Flask, client: FlaskClient, make_applicant: Callable[..., User]
) -> None:
    user = make_applicant()
    login(client, user)
    reply = _post(
        client,
        "/portal/account",
        full_name="Ali Valiyev",
        phone="+998 90 123-45-67",
        pinfl=PINFL,
    )
    assert reply.status_code == 302
    profile = db.session.get(ApplicantProfile, user.id, populate_existing=True)
    assert profile is not None
    assert (profile.phone, profile.pinfl) == ("+998 90 123-45-67", PINFL)
    event = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "applicant.profile", AuditEvent.object_id == str(user.id)
        )
    )
    assert event is not None
    assert event.details == {"changed": ["full_name", "phone", "pinfl"]}

    # An empty PINFL keeps the one on file.
    _post(client, "/portal/account", full_name="Ali Valiyev", phone="", pinfl="")
    profile = db.session.get(ApplicantProfile, user.id, populate_existing=True)
    assert profile is not None
    assert (profile.phone, profile.pinfl) == ("", PINFL)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pinfl", "1234", "PINFL: a PINFL is exactly 14 digits"),
        ("pinfl", "71234567890123", "PINFL: a PINFL starts with a digit from 1 to 6"),
        ("phone", "call me", "Phone number: use digits, spaces, brackets and dashes"),
        ("phone", "9" * 10_000, "Phone number: must be at most 32 characters"),
        ("full_name", "", "Full name: is required"),
        ("full_name", "Ali\x1bValiyev", "Full name: must not contain control characters"),
    ],
)
def test_bad_details_are_named(
    client: FlaskClient,
    make_applicant: Callable[..., User],
    field: str,
    value: str,
    message: str,
) -> None:
    login(client, make_applicant())
    data = {"full_name": "Ali Valiyev", "phone": "", "pinfl": "", field: value}
    reply = _post(client, "/portal/account", **data)
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert message in text_of(html)
    assert f'href="#{field}"' in html


def test_a_pinfl_of_another_account_is_refused(
    client: FlaskClient, make_applicant: Callable[..., User]
) -> None:
    make_applicant(pinfl=PINFL)
    login(client, make_applicant())
    reply = _post(client, "/portal/account", full_name="X", phone="", pinfl=PINFL)
    assert reply.status_code == 422
    assert "this PINFL belongs to another account" in reply.get_data(as_text=True)


def test_html_in_names_is_shown_as_text(
    client: FlaskClient, make_applicant: Callable[..., User]
) -> None:
    user = make_applicant(
        full_name="<script>alert(1)</script>", tin=TIN, org_name="<b>Bold</b> & Co"
    )
    login(client, user)
    html = client.get("/portal/account").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Co" in html


def test_adding_and_leaving_organisations(
    ctx: Flask, client: FlaskClient, make_applicant: Callable[..., User]
) -> None:
    colleague = make_applicant(tin=OTHER_TIN, org_name="Known LLC")
    user = make_applicant()
    login(client, user)
    added = _post(client, "/portal/account/organisations", tin=TIN, org_name="New LLC")
    assert added.status_code == 302
    joined = _post(client, "/portal/account/organisations", tin=OTHER_TIN, org_name="Typo LLC")
    assert joined.status_code == 302
    names = [o.name for o in services.organisations_of(user)]
    assert names == ["Known LLC", "New LLC"]

    twice = _post(client, "/portal/account/organisations", tin=TIN, org_name="New LLC")
    assert twice.status_code == 422
    assert "TIN of the organisation: you act for this organisation already" in text_of(
        twice.get_data(as_text=True)
    )

    known = db.session.scalar(select(Organisation).where(Organisation.tin == OTHER_TIN))
    assert known is not None
    left = _post(client, f"/portal/account/organisations/{known.id}/leave")
    assert left.status_code == 302
    assert [o.name for o in services.organisations_of(user)] == ["New LLC"]
    # The organisation stays, with its other members.
    assert db.session.get(Membership, (colleague.id, known.id)) is not None

    # Leaving one you do not act for changes nothing.
    again = _post(client, f"/portal/account/organisations/{known.id}/leave")
    assert again.status_code == 302
    assert "No such organisation." in client.get("/portal/account").get_data(as_text=True)
    assert db.session.get(Membership, (colleague.id, known.id)) is not None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"tin": "12345", "org_name": "X"}, "tin", "a TIN is exactly 9 digits"),
        ({"tin": "12345678a", "org_name": "X"}, "tin", "a TIN is exactly 9 digits"),
        ({"tin": "012345678", "org_name": "X"}, "tin", "a TIN does not start with 0"),
        ({"tin": TIN, "org_name": ""}, "org_name", "is required when a TIN is given"),
        ({"tin": "", "org_name": ""}, "tin", "is required"),
        ({"tin": TIN, "org_name": "x" * 10_000}, "org_name", "must be at most 300 characters"),
    ],
)
def test_bad_organisations_are_named(
    client: FlaskClient,
    make_applicant: Callable[..., User],
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    login(client, make_applicant())
    reply = _post(client, "/portal/account/organisations", **data)
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert message in text_of(html)
    assert f'href="#{field}"' in html
    assert Page(html).h1_count == 1


def test_staff_and_visitors_have_no_portal_account(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    assert client.get("/portal/account").status_code == 302
    login(client, make_user(Role.CLERK))
    assert client.get("/portal/account").status_code == 403


def test_forms_need_the_csrf_token(
    client: FlaskClient, make_applicant: Callable[..., User]
) -> None:
    user = make_applicant()
    login(client, user)
    reply = client.post("/portal/account", data={"full_name": "Changed", "phone": ""})
    assert reply.status_code == 400
    assert "The CSRF token is missing." in reply.get_data(as_text=True)
    assert db.session.get(User, user.id, populate_existing=True).full_name != "Changed"  # type: ignore[union-attr]


# Acting for whom ------------------------------------------------------------------------


def test_acting_options_and_choices(ctx: Flask, make_applicant: Callable[..., User]) -> None:
    user = make_applicant(pinfl=PINFL, tin=TIN, org_name="Valiyev LLC", full_name="Ali Valiyev")
    other = services.add_organisation(user, OTHER_TIN, "Another LLC")
    [person, first, second] = services.acting_options(user)
    assert (person.kind, person.organisation_id, person.label) == ("person", None, "Ali Valiyev")
    assert (person.identifier, person.masked, person.value) == (
        PINFL,
        "**********0123",
        "person",
    )
    assert (second.kind, second.label, second.identifier, second.masked) == (
        "organisation",
        "Valiyev LLC",
        TIN,
        "*****4567",
    )
    assert first.organisation_id == other.id
    assert first.value == f"organisation:{other.id}"
    assert PINFL not in repr(person)  # safe to log
    assert TIN not in repr(second)

    assert services.acting_for(user, "person") == person
    assert services.acting_for(user, f"organisation:{other.id}") == first
    with pytest.raises(AttributeError):
        person.label = "changed"  # type: ignore[misc]


def test_acting_for_refuses_what_the_user_may_not(
    ctx: Flask, make_applicant: Callable[..., User]
) -> None:
    user = make_applicant()
    stranger = make_applicant(tin=TIN, org_name="Not Yours LLC")
    [theirs] = services.organisations_of(stranger)
    assert services.acting_options(user) == []

    with pytest.raises(ValidationError) as no_pinfl:
        services.acting_for(user, "person")
    assert no_pinfl.value.errors == {
        "acting_for": "to apply as a person, add your PINFL on your account page first"
    }
    for choice in (
        f"organisation:{theirs.id}",
        "organisation:999999",
        "organisation:abc",
        "organisation:",
        "organisation:٣",
        "organisation:" + "9" * 40,
        "",
        "everyone",
        None,
    ):
        with pytest.raises(ValidationError) as caught:
            services.acting_for(user, choice)
        assert set(caught.value.errors) == {"acting_for"}, choice


def test_leave_an_organisation_one_does_not_act_for(
    ctx: Flask, make_applicant: Callable[..., User]
) -> None:
    user = make_applicant()
    with pytest.raises(NotFound):
        services.leave_organisation(user, 999_999)


def test_an_applicant_reaches_password_tokens_and_notifications_from_the_account(
    client: FlaskClient, make_applicant: Callable[..., User]
) -> None:
    """Machines submit with an applicant's API token: the applicant makes one himself."""
    user = make_applicant(pinfl=PINFL)
    login(client, user)
    page = client.get("/portal/account").get_data(as_text=True)
    for url in ("/account/password", "/account/tokens", "/notifications"):
        assert f'href="{url}"' in page
        assert client.get(url).status_code == 200
    made = client.post(
        "/account/tokens",
        data={"csrf_token": csrf_token(client, "/account/tokens"), "name": "accounting system"},
    )
    assert made.status_code == 200
    assert "accounting system" in made.get_data(as_text=True)
