"""Query cost: the objects a query can return, estimated before it runs."""

from __future__ import annotations

import time

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
    parse,
)

from config.settings import Settings
from schema.cost import LIST_BOUNDS, _is_list, _is_wrapper, plan_cost
from schema.root import build_schema
from tests.client import GraphQLClient
from tests.factories import make_user

NESTED = (
    'query($n: Int) { user(username: "ana") { followers(first: $n) { edges { node {'
    " followers(first: $n) { edges { node { followers(first: $n) { edges { node { id } } }"
    " } } } } } } } }"
)


def test_every_unpaginated_list_of_objects_has_a_bound() -> None:
    schema = build_schema(Settings(environment="test"))._schema
    missing = []
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            continue
        if type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            named = get_named_type(field.type)
            objects = isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
            structural = name == "edges" and _is_wrapper(type_.name)
            bounded = f"{type_.name}.{name}" in LIST_BOUNDS or named.name in LIST_BOUNDS
            paged = "first" in field.args or structural
            if objects and _is_list(field.type) and not paged and not bounded:
                missing.append(f"{type_.name}.{name}")
    assert missing == [], f"give these lists a bound in schema/cost.LIST_BOUNDS: {missing}"


def test_cost_multiplies_first_down_the_tree() -> None:
    schema = build_schema(Settings(environment="test"))._schema
    plan = plan_cost(schema, parse(NESTED))
    assert plan.cost(None, {"n": 50}) == 1 + 50 + 50**2 + 50**3
    assert plan.cost(None, {"n": 2}) == 1 + 2 + 4 + 8
    assert plan.cost(None, {}) == 1 + 20 + 20**2 + 20**3  # the default page size
    carousel = plan_cost(
        schema,
        parse(
            "{ viewer { posts(first: 5) { edges { node { media { id variants { url } } } } } } }"
        ),
    )
    assert carousel.cost(None, {}) == 1 + 5 + 5 * 10 + 5 * 10 * 12


def test_nested_fragments_are_worked_out_once_each() -> None:
    schema = build_schema(Settings(environment="test"))._schema
    levels = ["fragment F0 on User { id followers(first: 2) { edges { node { id } } } }"]
    for level in range(1, 25):  # 2**24 paths, if each spread were walked anew
        spreads = " ".join(
            f"a{i}: following(first: 1) {{ edges {{ node {{ ...F{level - 1} }} }} }}"
            for i in range(2)
        )
        levels.append(f"fragment F{level} on User {{ {spreads} }}")
    document = parse("{ viewer { ...F24 } } " + " ".join(levels), max_tokens=100_000)
    started = time.monotonic()
    cost = plan_cost(schema, document).cost(None, {})
    assert time.monotonic() - started < 0.5
    assert cost > 2**24


# Within the live server's depth limit: breadth (aliases) instead of a third level.
WIDE = (
    'query($n: Int) { user(username: "ana") { followers(first: $n) { edges { node { '
    + " ".join(f"f{i}: followers(first: $n) {{ edges {{ node {{ id }} }} }}" for i in range(21))
    + " } } } } }"
)


async def test_a_costly_query_is_refused_with_its_cost_and_the_limit(
    client: GraphQLClient,
) -> None:
    await make_user("ana")
    response = await client.post(WIDE, {"n": 50})
    body = response.json()
    assert body.get("data") is None
    error = body["errors"][0]
    cost = 1 + 50 + 21 * 50 * 50
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": cost, "maxCost": 50_000}
    assert str(cost) in error["message"]
    assert "50000" in error["message"]
    cheap = await client.raw(WIDE, {"n": 10})
    assert "errors" not in cheap, cheap
    assert cheap["extensions"]["cost"] == 1 + 10 + 21 * 100
