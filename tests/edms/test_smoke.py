from __future__ import annotations

from tests.conftest import login


def test_registry_lists_a_registered_document(client, make_user, make_document):
    clerk = make_user("clerk")
    doc = make_document(clerk, title="Hello <b>world</b>")
    login(client, clerk)
    page = client.get("/documents")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert doc.registration_number in html
    assert "Hello &lt;b&gt;world&lt;/b&gt;" in html
