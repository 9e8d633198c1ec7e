"""The service catalogue: the shipped services, and every broken definition named by
file, path and line."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workflows
from edms.demo import DEPARTMENTS, HEADS, JOURNALS, USERS
from edms.errors import ValidationError
from edms.portal import catalogue
from edms.portal.catalogue import (
    MAX_TEXT_BYTES,
    TABLE_TYPES,
    CatalogueError,
    InfoRequestSpec,
    ServiceSpec,
    check_references,
    load_directory,
    parse_service,
    text,
)

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ROOT / "config" / "services"
WORKFLOWS = ROOT / "config" / "workflows"
TEMPLATES = ROOT / "config" / "templates"
# The document types of the initial migration (reference data) that the services use.
DOCUMENT_TYPES = {"general", "letter", "application", "report", "licence", "permit"}
DEMO = {
    "journals": {code for code, *_ in JOURNALS},
    "departments": {code for code, *_ in DEPARTMENTS},
    "document_types": DOCUMENT_TYPES,
    "workflows": {p.stem for p in WORKFLOWS.glob("*.yaml")},
    "templates": {p.stem for p in TEMPLATES.glob("*.docx")},
}
LANG3 = {"uz": "Matn", "ru": "Текст", "en": "Text"}

# A small valid service, written out so that the lines in messages are known.
SMALL = """\
code: small_service
name: {uz: Kichik, ru: Малая, en: Small}
description: {uz: Tavsif, ru: Описание, en: Description}
term_days: 5
applicants: [person]
journal: IN
department: CHANCERY
document_type: application
workflow: certificate_request
decision:
  template: certificate
form:
  type: object
  required: [purpose]
  properties:
    purpose:
      type: string
      x-title: {uz: Maqsad, ru: Цель, en: Purpose}
"""


def shipped(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SERVICES / f"{name}.yaml").read_text("utf-8"))
    return data


def problems_of(data: Any, source: str = "svc.yaml") -> list[str]:
    text_ = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    with pytest.raises(CatalogueError) as caught:
        parse_service(text_, source)
    assert caught.value.problems
    for problem in caught.value.problems:
        assert problem.startswith(f"{source}: ")
    return caught.value.problems


def one_problem(data: Any, *needles: str) -> str:
    """The problem that contains every needle (there must be one)."""
    problems = problems_of(data)
    found = [p for p in problems if all(n in p for n in needles)]
    assert found, problems
    return found[0]


def stats() -> dict[str, Any]:
    return shipped("statistical_report")


# --- the shipped catalogue ----------------------------------------------------------


def test_the_four_shipped_services_load_sorted_by_code() -> None:
    specs = load_directory(SERVICES)
    assert [s.code for s in specs] == [
        "certificate_request",
        "licence_request",
        "permit_request",
        "statistical_report",
    ]
    for spec in specs:
        assert spec.source == f"{spec.code}.yaml"
        assert spec.source_text == (SERVICES / spec.source).read_text("utf-8")
        for texts in (spec.name, spec.description):
            assert set(texts) == {"uz", "ru", "en"}
            assert "'" not in texts["uz"]  # Uzbek apostrophes are ‘ and ’, not '


@pytest.mark.parametrize("path", sorted(SERVICES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_services_resolve_against_the_demo(path: Path) -> None:
    spec = parse_service(path.read_text("utf-8"), path.name)
    assert spec.code == path.stem
    assert check_references(spec, **DEMO) == []


@pytest.mark.parametrize("path", sorted(SERVICES.glob("*.yaml")), ids=lambda p: p.name)
def test_the_route_of_each_shipped_service_is_staffed_in_the_demo(path: Path) -> None:
    spec = parse_service(path.read_text("utf-8"), path.name)
    route = workflows.load_definition(
        (WORKFLOWS / f"{spec.workflow}.yaml").read_text("utf-8"),
        f"{spec.workflow}.yaml",
        departments=DEMO["departments"],
    )
    heads = dict(HEADS)
    for stage in route.stages:
        for who in stage.assignees:
            if who.kind == "head_of":
                dept = spec.department if who.head_of == "owner" else who.head_of
                assert dept in heads, (stage.id, dept)
            elif who.kind == "role":
                dept = spec.department if who.department == "owner" else who.department
                assert any(r == who.role and d == dept for _u, _p, r, d, _n in USERS), (
                    stage.id,
                    who.role,
                    dept,
                )


def test_the_shipped_services_say_what_the_brief_asks() -> None:
    by_code = {s.code: s for s in load_directory(SERVICES)}
    licence = by_code["licence_request"]
    assert licence.fee is not None
    assert licence.fee.amount == 1_236_000
    assert not licence.free
    assert licence.attachment("charter").types == ("application/pdf",)
    assert licence.attachment("charter").required
    assert not licence.attachment("premises_plan").required
    assert licence.form["properties"]["agree"] == {
        "type": "boolean",
        "const": True,
        "x-title": licence.form["properties"]["agree"]["x-title"],
    }
    assert by_code["certificate_request"].free
    assert by_code["certificate_request"].decision.refusal_template == "decision"
    report = by_code["statistical_report"].report
    assert report is not None
    assert by_code["statistical_report"].free
    assert set(by_code["statistical_report"].attachment(report.attachment).types) == TABLE_TYPES
    assert [c.name for c in report.columns] == [
        "region_code",
        "activity",
        "employees",
        "wages",
        "revenue",
        "period_end",
    ]
    assert [(t.column, t.field) for t in report.totals] == [
        ("employees", "total_employees"),
        ("wages", "total_wages"),
    ]


def test_defaults_and_helpers() -> None:
    spec = parse_service(SMALL, "small.yaml")
    assert spec.fee is None
    assert spec.free
    assert spec.information_requests == InfoRequestSpec("pause", 10)
    assert spec.decision.refusal_template == "decision"
    assert spec.attachments == ()
    assert spec.report is None
    assert spec.lines["form.properties.purpose"] == 16
    assert spec.label("ru") == "Малая"
    assert spec.label("fr") == "Small"
    assert text({"uz": "a", "en": "b"}, "ru") == "b"
    assert text({"ru": "только"}, "uz") == "только"
    assert text(None, "en") == ""
    with pytest.raises(KeyError):
        spec.attachment("nothing")


def test_a_spec_is_frozen() -> None:
    spec = parse_service(SMALL, "small.yaml")
    with pytest.raises(AttributeError):
        spec.code = "other"  # type: ignore[misc]
    assert isinstance(spec, ServiceSpec)


# --- broken definitions: file, path, line, what to do -------------------------------


def test_a_missing_language_names_file_path_and_line() -> None:
    broken = SMALL.replace(
        "name: {uz: Kichik, ru: Малая, en: Small}", "name: {uz: Kichik, en: Small}"
    )
    problem = one_problem(broken, "name.ru")
    assert problem.startswith("svc.yaml: line 2, name.ru: the text in 'ru' is missing")
    assert "(fix: give the text in every language" in problem


def test_a_missing_language_of_a_field_title() -> None:
    data = shipped("licence_request")
    del data["form"]["properties"]["address"]["x-title"]["uz"]
    one_problem(data, "form.properties.address.x-title.uz", "'uz' is missing")


def test_an_extra_language_and_a_blank_text() -> None:
    data = shipped("licence_request")
    data["name"]["de"] = "Lizenz"
    data["description"]["en"] = "   "
    one_problem(data, "name.de", "unknown language 'de'")
    one_problem(data, "description.en", "blank")


@pytest.mark.parametrize("code", ["Licence", "licence-request", "l", "1abc", "x" * 65])
def test_a_bad_code(code: str) -> None:
    data = shipped("licence_request")
    data["code"] = code
    problem = one_problem(data, "code")
    assert "is not written the right way" in problem
    assert "lowercase letters" in problem


def test_an_unknown_key_suggests_the_right_one() -> None:
    broken = SMALL.replace("term_days: 5", "term_day: 5")
    problems = problems_of(broken)
    assert any(
        "line 4, term_day: unknown key 'term_day'" in p and "term_days" in p for p in problems
    )
    assert any("'term_days' is missing" in p for p in problems)


@pytest.mark.parametrize("kind", ["array", "object"])
def test_a_nested_field_is_refused(kind: str) -> None:
    broken = SMALL.replace("      type: string\n", f"      type: {kind}\n")
    problem = one_problem(broken, "form.properties.purpose.type")
    assert "line 17" in problem
    assert "not supported: form fields are flat" in problem


def test_properties_inside_a_field_are_refused() -> None:
    data = shipped("licence_request")
    data["form"]["properties"]["address"]["properties"] = {"street": {"type": "string"}}
    one_problem(data, "form.properties.address.properties", "nested objects")


def test_an_unknown_kind_of_field() -> None:
    data = shipped("licence_request")
    data["form"]["properties"]["address"]["type"] = "file"
    one_problem(data, "form.properties.address.type", "not a supported kind of field")


def test_an_unknown_format() -> None:
    data = shipped("licence_request")
    data["form"]["properties"]["address"]["format"] = "uri"
    one_problem(data, "form.properties.address.format", "not one of: date, email, tin, pinfl")


def test_a_form_that_is_not_an_object() -> None:
    data = shipped("licence_request")
    data["form"]["type"] = "array"
    one_problem(data, "form.type", "must be 'object'")


def test_required_names_a_missing_property() -> None:
    broken = SMALL.replace("required: [purpose]", "required: [purpose, purpse_details]")
    problem = one_problem(broken, "form.required[1]")
    assert "line 14" in problem
    assert "'purpse_details', which is not a property of the form" in problem


def test_every_field_needs_a_title() -> None:
    data = shipped("licence_request")
    del data["form"]["properties"]["employees"]["x-title"]
    one_problem(data, "form.properties.employees.x-title", "'x-title' is missing")


@pytest.mark.parametrize(
    ("field", "key", "value", "needle"),
    [
        ("employees", "format", "date", "format goes with type string, not integer"),
        ("employees", "maxLength", 5, "maxLength goes with type string"),
        ("address", "minimum", 1, "minimum goes with type integer or number, not string"),
        ("address", "const", True, "const: true goes with type boolean"),
        ("activity", "format", "date", "either a format or enum values"),
        ("activity", "x-widget", "textarea", "textarea is for free text"),
        ("employees", "minimum", 100001, "minimum (100001) is more than maximum (100000)"),
        ("address", "pattern", "([0-9]", "does not compile"),
    ],
)
def test_keywords_that_do_not_fit_their_field(
    field: str, key: str, value: Any, needle: str
) -> None:
    data = shipped("licence_request")
    data["form"]["properties"][field][key] = value
    one_problem(data, f"form.properties.{field}.", needle)


def test_a_checkbox_that_must_be_ticked_is_required() -> None:
    data = shipped("licence_request")
    data["form"]["required"].remove("agree")
    one_problem(data, "form.properties.agree.const", "add agree to form.required")


def test_enum_titles_must_match_the_values() -> None:
    data = shipped("licence_request")
    titles = data["form"]["properties"]["activity"]["x-enum-titles"]
    del titles["tourism"]
    titles["touring"] = LANG3
    one_problem(data, "x-enum-titles", "'tourism' has no title")
    one_problem(data, "x-enum-titles.touring", "did you mean 'tourism'")


def test_yaml_booleans_and_dates_in_enum_values_say_quote_it() -> None:
    broken = SMALL.replace("      type: string\n", "      type: string\n      enum: [yes, no]\n")
    one_problem(broken, "form.properties.purpose.enum[0]", "quote it")
    broken = SMALL.replace("      type: string\n", "      type: string\n      enum: [2026-01-31]\n")
    one_problem(broken, "form.properties.purpose.enum[0]", "YAML reads this as a date", "line 18")


def test_a_field_name_that_cannot_be_an_html_name() -> None:
    data = shipped("licence_request")
    data["form"]["properties"]["Bad Name"] = {"type": "string", "x-title": LANG3}
    one_problem(data, "form.properties.Bad Name", "field name 'Bad Name' is not allowed")


def test_attachment_codes_are_unique_and_types_are_known() -> None:
    data = shipped("licence_request")
    data["attachments"][1]["code"] = "charter"
    one_problem(data, "attachments[1].code", "already used by attachments[0]")
    data = shipped("licence_request")
    data["attachments"][0]["types"] = ["aplication/pdf"]
    problem = one_problem(data, "attachments[0].types[0]", "did you mean 'application/pdf'")
    assert "'aplication/pdf' is not one of the values allowed" in problem


def test_the_report_attachment_must_be_a_table() -> None:
    data = stats()
    data["attachments"][0]["types"] = ["text/csv", "application/pdf"]
    problem = one_problem(data, "report.attachment", "application/pdf, which is not a table")
    assert "text/csv" in problem


def test_the_report_attachment_must_exist() -> None:
    data = stats()
    data["report"]["attachment"] = "reports"
    one_problem(
        data, "report.attachment", "'reports', which the service does not ask for", "report"
    )


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ({"column": "activity", "field": "total_employees"}, "type enum: it cannot be added up"),
        ({"column": "staff", "field": "total_employees"}, "the report does not have"),
        ({"column": "employees", "field": "contact_person"}, "type string, not a number"),
        ({"column": "employees", "field": "total_staff"}, "the form does not have"),
    ],
)
def test_bad_totals(rule: dict[str, str], needle: str) -> None:
    data = stats()
    data["report"]["totals"] = [rule]
    one_problem(data, "report.totals[0].", needle)


def test_report_columns() -> None:
    data = stats()
    columns = data["report"]["columns"]
    columns[1]["name"] = "region_code"
    del columns[1]["values"]
    columns[2]["pattern"] = "^[0-9]+$"
    columns[3]["values"] = ["a"]
    columns[4]["type"] = "money"
    problems = problems_of(data)
    assert any("report.columns[4].type" in p and "is not one of" in p for p in problems)
    del columns[4]["type"]
    problems = problems_of(data)
    assert any("report.columns[4].type" in p and "'type' is missing" in p for p in problems)
    columns[4]["type"] = "number"
    problems = problems_of(data)
    joined = "\n".join(problems)
    assert "report.columns[1].name: the column name 'region_code' is already used" in joined
    assert "report.columns[1].values: an enum column needs its values" in joined
    assert "report.columns[2].pattern: pattern goes with type string, not integer" in joined
    assert "report.columns[3].values: values go with type enum, not number" in joined


def test_not_yaml() -> None:
    problem = one_problem("code: [licence\nname: x\n", "not valid YAML")
    assert re.search(r"line \d", problem)


def test_not_a_mapping_and_empty() -> None:
    one_problem("- a\n- b\n", "must be a mapping")
    one_problem("", "the file is empty")
    one_problem("# only a comment\n", "the file is empty")


def test_duplicate_keys_and_aliases() -> None:
    one_problem(SMALL + "term_days: 6\n", "line 19, term_days", "appears twice")
    aliased = SMALL.replace(
        "description: {uz: Tavsif, ru: Описание, en: Description}",
        "description: &d {uz: a, ru: b, en: c}",
    )
    aliased = aliased.replace(
        "      x-title: {uz: Maqsad, ru: Цель, en: Purpose}", "      x-title: *d"
    )
    one_problem(aliased, "aliases")


def test_a_huge_file_is_refused_before_parsing() -> None:
    huge = SMALL + "# " + "x" * MAX_TEXT_BYTES + "\n"
    problem = one_problem(huge, "KB")
    assert f"more than the {MAX_TEXT_BYTES // 1024} KB" in problem


def test_a_deep_yaml_is_a_problem_not_a_crash() -> None:
    one_problem("a: " + "[" * 5000 + "]" * 5000 + "\n", "svc.yaml")


def test_every_problem_is_reported_at_once() -> None:
    data = shipped("licence_request")
    data["term_days"] = 0
    data["applicants"] = []
    data["journal"] = "in"
    problems = problems_of(data)
    assert len(problems) >= 3
    assert any("term_days" in p and "must be at least 1" in p for p in problems)
    assert any("applicants" in p and "empty" in p for p in problems)
    assert any("journal" in p and "not written the right way" in p for p in problems)


def test_the_error_is_a_validation_error_with_details() -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_service(SMALL.replace("term_days: 5", "term_days: 400"), "small.yaml")
    error = caught.value
    assert isinstance(error, ValidationError)
    assert error.status == 422
    assert error.details == [
        {
            "field": "term_days",
            "source": "small.yaml",
            "path": "term_days",
            "line": 4,
            "message": "400 must be at most 365",
            "hint": "write the legal term in working days, from 1 to 365",
        }
    ]
    assert error.errors == {"term_days": str(error.problems[0])}
    assert str(error) == error.problems[0]


# --- the directory ------------------------------------------------------------------


def test_duplicate_codes_name_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SMALL, "utf-8")
    (tmp_path / "b.yaml").write_text(SMALL, "utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_directory(tmp_path)
    assert caught.value.problems == [
        "b.yaml: line 1, code: the code 'small_service' is already used by a.yaml "
        "(fix: give each service a code of its own)"
    ]


def test_the_problems_of_every_file_at_once(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(SMALL, "utf-8")
    (tmp_path / "bad.yaml").write_text("code: [\n", "utf-8")
    (tmp_path / "latin1.yaml").write_bytes("code: caf\xe9\n".encode("latin-1"))
    (tmp_path / "huge.yaml").write_bytes(b"#" * (MAX_TEXT_BYTES + 10))
    (tmp_path / "ignored.txt").write_text("not a service", "utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_directory(tmp_path)
    problems = caught.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("bad.yaml: line 2, (top level): not valid YAML")
    assert problems[1].startswith("huge.yaml: (top level): the file is")
    assert (
        problems[2]
        == "latin1.yaml: (top level): is not UTF-8 text (byte 9) (fix: save the file as UTF-8)"
    )


def test_an_empty_directory_is_an_empty_catalogue(tmp_path: Path) -> None:
    assert load_directory(tmp_path) == []


# --- references ---------------------------------------------------------------------


def test_unknown_references_name_path_line_and_suggest() -> None:
    spec = parse_service(SMALL.replace("journal: IN", "journal: INN"), "small.yaml")
    problems = check_references(spec, **{**DEMO, "templates": {"licence", "decision"}})
    assert problems == [
        "line 6, journal: unknown journal 'INN' (fix: did you mean 'IN'? write one of: INT, IN, OUT)".replace(
            "INT, IN, OUT", ", ".join(sorted(DEMO["journals"]))
        ),
        "line 11, decision.template: unknown template 'certificate' "
        "(fix: write one of: decision, licence)",
    ]


def test_the_default_refusal_template_must_exist_too() -> None:
    spec = parse_service(SMALL, "small.yaml")
    problems = check_references(spec, **{**DEMO, "templates": {"certificate"}})
    assert problems == [
        "line 10, decision: unknown refusal template (the default) 'decision' "
        "(fix: write one of: certificate)"
    ]


def test_every_reference_is_checked() -> None:
    spec = parse_service(SMALL, "small.yaml")
    nothing: dict[str, set[str]] = {k: set() for k in DEMO}
    problems = check_references(spec, **nothing)
    assert [p.split(":")[0] for p in problems] == [
        "line 6, journal",
        "line 7, department",
        "line 8, document_type",
        "line 9, workflow",
        "line 11, decision.template",
        "line 10, decision",
    ]
    assert all("none exist yet" in p for p in problems)


# --- anything at all ----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_any_text_loads_or_raises_catalogue_error(text_: str) -> None:
    try:
        parse_service(text_, "any.yaml")
    except CatalogueError as exc:
        problems = exc.problems
    else:
        problems = []
    assert all(p.startswith("any.yaml: ") for p in problems)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4), _json)
def test_any_value_anywhere_loads_or_raises_catalogue_error(path: list[str], value: Any) -> None:
    data = copy.deepcopy(stats())
    node: Any = data
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    try:
        parse_service(yaml.safe_dump(data, allow_unicode=True), "any.yaml")
    except CatalogueError as exc:
        assert len(exc.problems) >= 1  # noqa: PT017 - anything else than CatalogueError fails


def test_the_schema_is_a_valid_json_schema() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(catalogue.SCHEMA)
