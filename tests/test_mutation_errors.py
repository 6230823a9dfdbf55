"""Every mutation says in its description which error codes it can return, and the suite keeps
that true: outside production a refusal with a code the mutation did not declare is a server
error, so any test that meets one fails."""

from __future__ import annotations

import re

import pytest
from graphql import GraphQLObjectType

from config.runtime import Runtime
from config.settings import Settings
from domain.errors import ErrorCode
from schema import errors
from schema.root import build_schema
from tests.factories import context_for, make_user

LOGIN = """mutation ($u: String!) {
  login(input: {usernameOrEmail: $u, password: "not the password"}) { errors { code } }
}"""


def test_every_mutation_lists_the_codes_it_declared(settings: Settings) -> None:
    mutation_type = build_schema(settings)._schema.mutation_type
    assert isinstance(mutation_type, GraphQLObjectType)
    assert len(mutation_type.fields) >= 30
    for name, field in mutation_type.fields.items():
        listed = re.search(r"Error codes: ([A-Z_, ]+)\.$", field.description or "")
        assert listed, f"{name} does not list its error codes"
        codes = {ErrorCode(code) for code in listed.group(1).split(", ")}
        python_name = re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
        assert codes == errors.DECLARED[python_name], name
        assert ErrorCode.RATE_LIMITED in codes  # every mutation counts against the limit


async def test_a_declared_refusal_is_a_user_error(settings: Settings, runtime: Runtime) -> None:
    user = await make_user()
    result = await build_schema(settings).execute(
        LOGIN, variable_values={"u": user.username}, context_value=context_for(runtime, None)
    )
    assert result.errors is None
    assert result.data == {"login": {"errors": [{"code": "INVALID_CREDENTIALS"}]}}


async def test_an_undeclared_refusal_is_a_server_error_outside_production(
    settings: Settings,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: login declaring less than it can return
    monkeypatch.setitem(errors.DECLARED, "login", errors.ALWAYS)
    user = await make_user()

    result = await build_schema(settings).execute(
        LOGIN, variable_values={"u": user.username}, context_value=context_for(runtime, None)
    )

    # then: the refusal does not reach the client as a documented answer, and the log says why
    assert result.data is None or result.data.get("login") is None
    assert [error.message for error in result.errors or []] == ["Unexpected error."]
    assert "login returned INVALID_CREDENTIALS, not in its description" in caplog.text
