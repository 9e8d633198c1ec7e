"""API route: full-text search of the documents the token's user may see."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from edms.api.blueprint import ApiBlueprint
from edms.api.schemas import DocumentSummarySchema, _choice, _Form, _text
from edms.api.views import blueprints
from edms.auth.login import get_user
from edms.search import services
from edms.search.backend import SORTS, Hit

search_bp = ApiBlueprint(
    "api_search",
    __name__,
    description='Full-text search: words, "phrases", prefixes*, filters and facets. '
    "Only documents you may see are counted or returned.",
)
blueprints.append(search_bp)


class SearchQuerySchema(_Form):
    q = _text('Words, "a phrase", or a prefix* (three letters at least).')
    type = _text("Document type code.")
    department = _text("Department code.")
    journal = _text("Journal code.")
    direction = _choice("Direction of the journal.", ["incoming", "outgoing", "internal"])
    status = _text("Status.")
    language = _text("Language code.")
    date_from = _text("Registered on or after this date.", format="date")
    date_to = _text("Registered on or before this date.", format="date")
    sort = _choice("Relevance (default with words) or date (`-date`: newest first).", list(SORTS))
    page = _text("Page number, from 1.", type="integer", minimum=1)
    per_page = _text("Hits per page (up to max_page_size).", type="integer", minimum=1)


class HitSchema(DocumentSummarySchema):
    score = fields.Float(metadata={"description": "Relevance; higher is better."})
    snippet = fields.String(
        metadata={"description": "Text around the matches, HTML-escaped, matches in <mark>."}
    )


class SearchResultSchema(Schema):
    total = fields.Integer(metadata={"description": "Documents matching, that you may see."})
    page = fields.Integer()
    per_page = fields.Integer()
    partial = fields.Boolean(  # type: ignore[assignment]
        metadata={"description": "The time limit cut the search short: more may match."}
    )
    note = fields.String(allow_none=True)
    facets = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Integer()),
        metadata={"description": "Counts by type, department, year and status."},
    )
    hits = fields.List(fields.Nested(HitSchema))


class _Hit:
    """A document with its score and snippet, for HitSchema."""

    def __init__(self, doc: Any, hit: Hit) -> None:
        self._doc = doc
        self.score = hit.score
        self.snippet = hit.snippet

    def __getattr__(self, name: str) -> Any:
        return getattr(self._doc, name)


@search_bp.route("/search")
@search_bp.arguments(SearchQuerySchema, location="query")
@search_bp.response(200, SearchResultSchema)
@search_bp.problems(401, 403)
def search(args: dict[str, Any]) -> dict[str, Any]:
    """Search the documents you may see

    422 names a malformed parameter or query (`q`). While the index is being rebuilt
    the answer is empty with a `note`.
    """
    query, results, docs = services.search(get_user(), args)
    by_id = {str(d.id): d for d in docs}
    hits = [_Hit(by_id[hit.id], hit) for hit in results.hits if hit.id in by_id]
    return {
        "total": results.total,
        "page": query.page,
        "per_page": query.per_page,
        "partial": results.partial,
        "note": results.note,
        "facets": results.facets,
        "hits": hits,
    }
