"""Validation runs once per document the parser cache hands out, and says the same."""

from __future__ import annotations

import pytest
from graphql import parse, specified_rules
from strawberry.schema import schema as strawberry_schema

from graphql_api import validated as validated_module
from graphql_api.schema import schema


def test_a_document_is_validated_once_and_a_new_one_with_the_same_text_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: validation counted, and a document with an error
    runs: list[object] = []
    validate = strawberry_schema.validate_document

    def counted(*args: object) -> object:
        runs.append(args[1])
        return validate(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(validated_module, "validate_document", counted)
    text = "{ me { id nope } }"
    document, rules = parse(text), tuple(specified_rules)

    # when: the same document is validated three times, then another parse of its text
    answers = [validated_module.validated(schema._schema, document, rules) for _ in range(3)]
    again = validated_module.validated(schema._schema, parse(text), rules)

    # then: validated twice (once per document object), every answer the same error
    assert len(runs) == 2
    assert [[e.message for e in errors] for errors in [*answers, again]] == [
        ["Cannot query field 'nope' on type 'User'."]
    ] * 4
