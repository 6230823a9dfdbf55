"""A bad-input corpus against the live server: documents and arguments generated from the
schema (hypothesis-graphql, valid ones and ones the schema refuses, NUL characters and all),
bounded in examples. Whatever comes in: never a 5xx, never the masked "Unexpected error."
(every input here is the client's doing, so every refusal must say what was wrong), and
nothing written by a signed-out client."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from graphql import GraphQLSchema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries

from config.settings import Settings
from schema.root import build_schema
from tests.factories import make_user, token_for

# Signed-out mutations that may write by design (a new account), or take a file.
WRITES_BY_DESIGN = {"register", "uploadMedia"}
# CORPUS_EXAMPLES=5000 for a long run (see the README).
EXAMPLES = int(os.environ.get("CORPUS_EXAMPLES", "150"))
RANDOM = bool(os.environ.get("CORPUS_RANDOM"))  # a new corpus each run, not the fixed one


def _schema() -> GraphQLSchema:
    return build_schema(Settings(environment="test"))._schema


SCHEMA = _schema()
assert SCHEMA.mutation_type is not None
MUTATION_FIELDS = sorted(set(SCHEMA.mutation_type.fields) - WRITES_BY_DESIGN)


@pytest.fixture(scope="module")
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        yield client


def _check(response: httpx.Response, document: str) -> None:
    assert response.status_code < 500 or response.status_code == 503, (
        response.status_code,
        document,
        response.text[:500],
    )
    if response.status_code in {413, 415, 405}:
        return
    body = response.json()
    for error in body.get("errors") or []:
        assert error["message"] != "Unexpected error.", (document, error)


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not RANDOM,  # the same corpus on every run: a failure is reproducible
    database=None,
)


@pytest.fixture
async def viewer_token(settings: Settings) -> str:
    return token_for(await make_user("corpus"), settings)


def test_generated_queries_never_fail_the_server(http: httpx.Client, viewer_token: str) -> None:
    """Signed out and signed in (other code paths: the viewer's lists, their follow state)."""

    @SETTINGS
    @given(
        document=st.one_of(queries(SCHEMA), queries(SCHEMA, mode=Mode.NEGATIVE)),
        signed_in=st.booleans(),
    )
    def run(document: str, signed_in: bool) -> None:
        headers = {"Authorization": f"Bearer {viewer_token}"} if signed_in else {}
        _check(http.post("/graphql", json={"query": document}, headers=headers), document)

    run()


WRITABLE = ("posts", "comments", "follows", "blocks", "messages", "media", "reports", "likes")


async def _rows_written(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        counts = [await conn.fetchval(f"SELECT count(*) FROM {t}") for t in WRITABLE]
    finally:
        await conn.close()
    return sum(counts)


def test_generated_mutations_never_fail_the_server_nor_write(
    http: httpx.Client, settings: Settings
) -> None:
    """Signed out, as an attacker probing: every table starts empty (each test does) and
    stays so."""

    @SETTINGS
    @given(
        document=st.one_of(
            mutations(SCHEMA, fields=MUTATION_FIELDS),
            mutations(SCHEMA, fields=MUTATION_FIELDS, mode=Mode.NEGATIVE),
        )
    )
    def run(document: str) -> None:
        _check(http.post("/graphql", json={"query": document}), document)

    run()
    assert settings.database_url
    assert asyncio.run(_rows_written(settings.database_url)) == 0
