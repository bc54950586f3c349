"""The stub's input rules that need no server: Java-int/long parameters, string fields PostgreSQL can store,
Jackson's nesting limit, and the OpenAPI description built from each release's model."""

from __future__ import annotations

import jsonschema
import pytest

from rhdemo_stub import openapi, web
from rhdemo_stub.model import RELEASES


@pytest.mark.parametrize("raw, expected", [("0", 0), ("42", 42), ("-1", -1), ("+7", 7),
                                           ("9223372036854775807", 2**63 - 1), ("-9223372036854775808", -(2**63))])
def test_ids_within_a_java_long(raw: str, expected: int) -> None:
    assert web._parse_id(raw) == expected


@pytest.mark.parametrize("raw", ["²", "٣", "１", "𝟐", "1_000", " 1", "1 ", "0x10", "", "-", "1.0",
                                 "9223372036854775808", "-9223372036854775809"])
def test_other_ids_are_springs_type_mismatch(raw: str) -> None:
    with pytest.raises(web.BadRequest) as caught:
        web._parse_id(raw)
    assert str(caught.value) == ("Method parameter 'id': Failed to convert value of type 'java.lang.String' to "
                                 f"required type 'java.lang.Long'; For input string: \"{raw}\"")
    assert caught.value.resolved is not None
    assert caught.value.resolved.startswith("org.springframework.web.method.annotation.MethodArgumentTypeMismatch")


@pytest.mark.parametrize("raw", ["2147483648", "-2147483649", "٣"])
def test_paging_parameters_are_java_ints(raw: str) -> None:
    with pytest.raises(web.BadRequest, match="to required type 'int'"):
        web._java_integer(raw, "page", "int", web._JAVA_INT)
    assert web._java_integer("2147483647", "page", "int", web._JAVA_INT) == 2**31 - 1


@pytest.mark.parametrize("value", ["A\x00B", "\x00", "\ud800", "Al\udfffice", "x\ud83d"])
def test_nul_and_unpaired_surrogates_are_validation_errors(value: str) -> None:
    body = {"prenom": value, "nom": "Martin", "mail": "alice@rhdemo.fr"}
    with pytest.raises(web.BadRequest, match=r"^Validation failed for object='employe'. Error count: 1$") as caught:
        web._payload(body, RELEASES["1.1"], web.CREATE)
    assert "on field 'prenom': default message [must not contain NUL" in str(caught.value.resolved)


def test_paired_surrogates_and_other_scripts_are_text() -> None:
    body = {"prenom": "Zoë 😍 李", "nom": "Martin", "mail": "alice@rhdemo.fr"}
    assert web._payload(body, RELEASES["1.0"], web.CREATE)["prenom"] == "Zoë 😍 李"


@pytest.mark.parametrize("body, too_deep", [
    (b"[" * 1000 + b"]" * 1000, False),
    (b"[" * 1001 + b"]" * 1001, True),
    (b'{"a":' * 1001 + b"1" + b"}" * 1001, True),
    (b'{"a": "' + b"[" * 5000 + b'"}', False),                # brackets inside a string
    (b'{"a": "\\"' + b"[" * 5000 + b'"}', False),             # after an escaped quote, still inside it
    (b"[" * 600 + b"]" * 600 + b"[" * 600 + b"]" * 600, False),  # many brackets, never deep
])
def test_nesting_depth_like_jacksons_limit(body: bytes, too_deep: bool) -> None:
    assert web._too_deep(body) is too_deep


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_the_openapi_description_follows_the_model(release: str) -> None:
    model = RELEASES[release]
    doc = openapi.api_docs(model, "http://127.0.0.1:8080", web.MAX_PAGE_SIZE)
    assert doc["servers"] == [{"url": "http://127.0.0.1:8080", "description": "Generated server url"}]
    employe = doc["components"]["schemas"]["Employe"]
    assert list(employe["properties"]) == [c.name for c in model.columns]
    request = doc["components"]["schemas"]["EmployeRequest"]
    assert "id" not in request["properties"]
    assert set(request["required"]) == {"prenom", "nom", "mail"}
    # An answer of the stub's shape validates against the description's schema (OpenAPI 3.0's `nullable`
    # spelt as JSON Schema's null type for the validator).
    answer = {c.name: (1 if c.generated else None if c.nullable else "x") for c in model.columns}
    properties = {name: ({**schema, "type": [schema["type"], "null"]} if schema.get("nullable") else schema)
                  for name, schema in employe["properties"].items()}
    jsonschema.validate(answer, {**employe, "properties": properties})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**answer, "mail": None}, {**employe, "properties": properties})
    size = doc["paths"]["/api/employes"]["get"]["parameters"][1]["schema"]
    assert (size["minimum"], size["maximum"]) == (1, web.MAX_PAGE_SIZE)
