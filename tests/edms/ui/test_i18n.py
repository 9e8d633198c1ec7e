"""The message catalogues and the interface language."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from edms.auth.models import User
from edms.documents.models import Document
from tests.conftest import csrf_token
from tests.edms.ui.conftest import TRANSLATIONS, Page, compile_catalogues

ROOT = TRANSLATIONS.parents[1]
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([sdifrx%])")
# The keywords the extract command in babel.cfg adds to the defaults.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2)}


def _catalogue(path: Path, locale: str | None = None) -> Catalog:
    with open(path, "rb") as fh:
        return read_po(fh, locale=locale)


def _placeholders(text: str) -> set[str]:
    return {f"{name or ''}{kind}" for name, kind in PLACEHOLDER.findall(text) if kind != "%"}


def _ids(message: Message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _template() -> Catalog:
    return _catalogue(TRANSLATIONS / "messages.pot")


def test_catalogue_template_is_up_to_date() -> None:
    """Every string the code marks for translation is in messages.pot (see babel.cfg)."""
    with open(ROOT / "babel.cfg") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = {
        (msgid if isinstance(msgid, str) else msgid[0], context)
        for _file, _line, msgid, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS
        )
    }
    known = {(_ids(m)[0], m.context) for m in _template() if m.id}
    missing = sorted(found - known)
    assert not missing, f"run the pybabel extract/update commands in babel.cfg: {missing[:10]}"


@pytest.mark.parametrize("locale", ["ru", "uz"])
def test_every_message_is_translated(locale: str) -> None:
    catalogue = _catalogue(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", locale)
    plural_forms = catalogue.num_plurals
    problems = []
    for template_message in _template():
        if not template_message.id:
            continue
        message = catalogue.get(template_message.id, context=template_message.context)
        msgid = _ids(template_message)[0]
        if message is None:
            problems.append(f"missing: {msgid!r}")
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(s.strip() for s in strings):
            problems.append(f"untranslated: {msgid!r}")
            continue
        if message.pluralizable and len(strings) != plural_forms:
            problems.append(f"needs {plural_forms} plural forms: {msgid!r}")
        expected = set().union(*(_placeholders(i) for i in _ids(template_message)))
        for translation in strings:
            if _placeholders(translation) != expected:
                problems.append(f"placeholders differ: {msgid!r} -> {translation!r}")
    assert not problems, "\n".join(problems)


def test_uzbek_uses_the_official_latin_apostrophes() -> None:
    """O‘ and g‘ take U+2018; the tutuq belgisi (as in ma’lumot) takes U+2019."""
    catalogue = _catalogue(TRANSLATIONS / "uz" / "LC_MESSAGES" / "messages.po", "uz")
    for message in catalogue:
        if not message.id:
            continue
        for text in message.string if isinstance(message.string, tuple) else (message.string,):
            assert not re.search(r"[oOgG]['`ʻ’]", text), f"use ‘ (U+2018) after o/g: {text!r}"
            assert not re.search(r"[\u0400-\u04FF]", text), (
                f"Cyrillic letter in Uzbek Latin: {text!r}"
            )


def test_catalogues_compile() -> None:
    compile_catalogues()
    for locale in ("en", "ru", "uz"):
        assert (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").exists()


# Choosing the language ------------------------------------------------------------------


def _switch(client: FlaskClient, lang: str, next_url: str = "/login") -> None:
    reply = client.post(
        "/language",
        data={"csrf_token": csrf_token(client, next_url), "lang": lang, "next": next_url},
    )
    assert reply.status_code == 302
    assert reply.headers["Location"] == next_url


def test_language_switch_to_russian_and_uzbek(client: FlaskClient) -> None:
    html = client.get("/login").get_data(as_text=True)
    assert Page(html).html_lang == "en"
    assert "<h1>Log in</h1>" in html

    _switch(client, "ru")
    html = client.get("/login").get_data(as_text=True)
    assert Page(html).html_lang == "ru"
    assert "<h1>Вход в систему</h1>" in html
    assert "Имя пользователя" in html

    _switch(client, "uz")
    html = client.get("/login").get_data(as_text=True)
    assert Page(html).html_lang == "uz"
    assert "<h1>Tizimga kirish</h1>" in html
    assert "Foydalanuvchi nomi" in html


def test_language_switch_needs_csrf_and_a_known_language(client: FlaskClient) -> None:
    assert client.post("/language", data={"lang": "ru"}).status_code == 400
    token = csrf_token(client)
    assert client.post("/language", data={"csrf_token": token, "lang": "fr"}).status_code == 422
    reply = client.post(
        "/language", data={"csrf_token": token, "lang": "ru", "next": "https://evil.example/"}
    )
    assert reply.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("header", "lang", "heading"),
    [
        ("ru-RU,ru;q=0.9,en;q=0.5", "ru", "Вход в систему"),
        ("uz", "uz", "Tizimga kirish"),
        ("fr-FR,fr;q=0.9", "en", "Log in"),  # none offered: the default language
        ("de, en;q=0.3, ru;q=0.5", "ru", "Вход в систему"),
    ],
)
def test_accept_language_when_nothing_was_chosen(
    client: FlaskClient, header: str, lang: str, heading: str
) -> None:
    html = client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
    assert Page(html).html_lang == lang
    assert f"<h1>{heading}</h1>" in html


def test_a_chosen_language_beats_the_browser(client: FlaskClient) -> None:
    _switch(client, "uz")
    html = client.get("/login", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert Page(html).html_lang == "uz"


def test_registry_in_russian_translates_codes(
    clerk_client: FlaskClient, clerk: User, make_document: Callable[..., Document]
) -> None:
    doc = make_document(clerk, document_type="letter")
    _switch(clerk_client, "ru", f"/documents/{doc.id}")
    html = clerk_client.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert "Письмо" in html  # the document type
    assert "Зарегистрирован" in html  # the status
    assert "Входящий" in html  # the direction
    assert f"Зарегистрирован под номером {doc.registration_number}" in html  # the history

    _switch(clerk_client, "uz", "/documents")
    html = clerk_client.get("/documents").get_data(as_text=True)
    assert "Xat" in html
    assert "Ro‘yxatga olingan" in html
    assert "Kiruvchi" in html


def test_service_messages_are_translated_where_known(clerk_client: FlaskClient) -> None:
    _switch(clerk_client, "ru", "/documents")
    reply = clerk_client.get("/documents?date_from=yesterday")
    assert reply.status_code == 422
    assert "укажите дату в виде 2026-01-31" in reply.get_data(as_text=True)
