"""The short path through execution (schema/engine/execution.py) and compiled queries
(schema/engine/compiled.py) answer exactly as Strawberry's own: the same data and the same
errors, at the same paths, for every kind of field they shorten and for those they leave
alone; and no resolver runs twice for one request."""

from __future__ import annotations

import enum
import gc
import warnings
from collections import Counter
from typing import Any

import pytest
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.types import Info

from schema.engine.compiled import Objects
from schema.engine.execution import ShortPathContext
from schema.engine.plans import PLANS, Attribute, ObjectAttribute, Resolver


@strawberry.enum
class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"


class Boom(Exception):
    pass


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Item(Named):  # with an interface: Strawberry gives Item an is_type_of
    id: strawberry.ID
    count: int
    size: Size
    note: str | None
    tags: list[str]
    broken_name: str = strawberry.field(name="brokenName", default="")
    grid: list[list[int]] = strawberry.field(default_factory=lambda: [[1, 2], [3]])

    @strawberry.field
    def pair(self) -> list[int]:
        return (self.count, self.count)  # type: ignore[return-value]  # a tuple is a list too

    @strawberry.field
    def counted(self) -> list[int]:
        return iter(range(self.count))  # type: ignore[return-value]  # an iterable, not a list

    @strawberry.field
    async def twin(self) -> Item:
        return self

    @strawberry.field
    def label(self, info: Info, width: int | None = None, size: Size = Size.SMALL) -> str:
        return f"{info.context['prefix']}{self.name}:{width}:{size.value}"

    @strawberry.field
    def shout(self, loud: bool = False) -> str | None:
        if self.name == "bad":
            raise Boom("cannot shout")
        return self.name.upper() + ("!" if loud else "")

    @strawberry.field
    def must(self) -> str:
        return None  # type: ignore[return-value]  # a resolver breaking its promise

    @strawberry.field
    def twice(self) -> int:
        return "x"  # type: ignore[return-value]  # a value Int rejects

    @strawberry.field
    async def later(self, by: int = 1) -> int:
        return self.count + by

    @strawberry.field
    async def fails_later(self) -> int:
        raise Boom("not now")

    @strawberry.field
    def seen(self) -> int:
        CALLS[f"seen:{self.id}"] += 1
        return 1

    @strawberry.field
    async def seen_later(self) -> int:
        CALLS[f"seen_later:{self.id}"] += 1
        return 2


# Calls of the resolvers that count them, by resolver and source.
CALLS: Counter[str] = Counter()


ITEMS = [
    Item(id=strawberry.ID("1"), name="a", count=1, size=Size.LARGE, note=None, tags=["x"]),
    Item(id=strawberry.ID("2"), name="bad", count=2, size=Size.SMALL, note="n", tags=[]),
    # breaks its non-null promises: `name` is None, `count` is not an int
    Item(id=strawberry.ID("3"), name=None, count="many", size=Size.SMALL, note=None, tags=[]),  # type: ignore[arg-type]
]


@strawberry.type
class Box:
    item: Item | None
    required: Item
    items: list[Item]


BOXES = [
    Box(item=ITEMS[0], required=ITEMS[1], items=[ITEMS[0], ITEMS[1]]),
    Box(item=None, required=None, items=[ITEMS[0], None]),  # type: ignore[arg-type, list-item]
]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return list(ITEMS)

    @strawberry.field
    def boxes(self) -> list[Box | None]:
        return list(BOXES)

    @strawberry.field
    def first(self) -> Item:
        return ITEMS[0]

    @strawberry.field
    def named(self) -> list[Named]:
        return [ITEMS[0]]

    @strawberry.field
    def not_an_item(self) -> Item:
        return BOXES[0]  # type: ignore[return-value]  # an object of the wrong type

    @strawberry.field
    async def tracked(self) -> list[Item | None]:
        CALLS["tracked"] += 1
        return list(ITEMS)

    @strawberry.field
    def tracked_now(self) -> Item:
        CALLS["tracked_now"] += 1
        return ITEMS[1]


class WatchEachField(SchemaExtension):
    """An extension with a resolve hook (graphql-core middleware): every field takes the usual
    path then."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


def schemas(*extensions: type[SchemaExtension]) -> tuple[strawberry.Schema, strawberry.Schema]:
    stock = strawberry.Schema(query=Query, extensions=list(extensions))
    short = strawberry.Schema(
        query=Query, extensions=list(extensions), execution_context_class=ShortPathContext
    )
    return stock, short


QUERIES = [
    "{ first { id name count size note tags } }",
    "{ first { label l2: label(width: 640, size: LARGE) } }",
    "query($w: Int, $s: Size!) { first { label(width: $w, size: $s) } }",
    "{ items { id name count } }",  # item 3: a null and a bad Int in non-null fields
    "{ items { shout(loud: true) } }",  # item 2 raises
    "{ first { must } }",  # null for non-null: the error climbs to `first`
    "{ items { twice } }",
    "{ items { later(by: 2) name } }",
    "{ first { n1: name n2: name ...F } } fragment F on Item { size }",
    "{ boxes { item { name } required { name } items { id } } }",  # nulls in non-null places
    "{ boxes { item { later } items { later } } }",  # async fields under attributes
    "{ boxes { item { failsLater } } }",  # an async error climbing through an attribute
    "{ boxes { items { name fails: failsLater } } }",
    "{ items @stream(initialCount: 1) { id } }",  # no @stream in this schema: refused
    "{ __typename first { __typename grid pair twin { later twin { name __typename } } } }",
    "{ first { counted } }",
    "{ named { name ... on Item { id } } }",  # an interface
    "{ notAnItem { id } }",
    "query($yes: Boolean!) { first { id @include(if: $yes) name @skip(if: $yes) } }",
    "{ first { ...on Item { ... { id } } } ...Q } fragment Q on Query { first { name } }",
]


async def answer(schema: strawberry.Schema, query: str) -> dict[str, Any]:
    result = await schema.execute(
        query,
        variable_values={"w": 320, "s": "LARGE", "yes": True},
        context_value={"prefix": "~"},
    )
    return {"data": result.data, "errors": [(e.message, e.path) for e in result.errors or []]}


@pytest.mark.parametrize("query", QUERIES)
async def test_the_short_path_answers_as_strawberry_does(query: str) -> None:
    stock, short = schemas()
    assert await answer(short, query) == await answer(stock, query)


@pytest.mark.parametrize("query", QUERIES[:4])
async def test_with_a_resolve_hook_every_field_takes_the_usual_path(query: str) -> None:
    stock, short = schemas(WatchEachField)
    assert await answer(short, query) == await answer(stock, query)


async def test_which_fields_take_the_short_path() -> None:
    _, short = schemas()
    await answer(short, QUERIES[0])
    await answer(short, QUERIES[7])
    await answer(short, QUERIES[1])

    plans = short._schema.type_map["Item"].extensions[PLANS]
    assert {name for name, plan in plans.items() if isinstance(plan, Attribute)} == {
        "id",
        "name",
        "count",
        "size",
        "note",
    }
    assert {name for name, plan in plans.items() if isinstance(plan, Resolver)} == {
        "label",
        "later",  # async
    }
    assert isinstance(plans["tags"], ObjectAttribute)  # a list


async def test_arguments_are_worked_out_per_document_and_per_variables() -> None:
    _, short = schemas()
    by_variable = "query($w: Int) { first { label(width: $w) } }"
    for width in (1, 2):
        result = await short.execute(by_variable, {"w": width}, context_value={"prefix": ""})
        assert result.data == {"first": {"label": f"a:{width}:s"}}
    for width in (3, 4, 3):
        literal = f"{{ first {{ label(width: {width}) }} }}"
        result = await short.execute(literal, context_value={"prefix": ""})
        assert result.data == {"first": {"label": f"a:{width}:s"}}


class Watched(ShortPathContext):
    """Notes whether each query ran compiled, and whether it was given up."""

    runs: list[str] = []

    def _run_compiled(self, steps: Objects, *args: Any) -> Any:
        self.runs.append("compiled")
        return super()._run_compiled(steps, *args)

    def _fields(self, parent_type: Any, source: Any, path: Any, *args: Any) -> Any:
        if path is None:
            self.runs.append("usual")
        return super()._fields(parent_type, source, path, *args)


@pytest.mark.parametrize(
    ("query", "runs"),
    [
        ("{ first { id name count size note tags label } }", ["compiled"]),
        ("{ __typename first { __typename grid pair twin { later } } }", ["compiled"]),
        ("{ first { twin { later twin { name later(by: 5) } } } }", ["compiled"]),
        # given up: a raised error, a null where none may be, an iterable that is not a list,
        # an object of the wrong type, an async error; each runs again the usual way
        ("{ items { shout(loud: true) } }", ["compiled", "usual"]),
        ("{ items { id name count } }", ["compiled", "usual"]),
        ("{ items { later(by: 2) name } }", ["compiled", "usual"]),  # with awaitables pending
        ("{ first { counted } }", ["compiled", "usual"]),
        ("{ notAnItem { id } }", ["compiled", "usual"]),
        ("{ boxes { item { failsLater } } }", ["compiled", "usual"]),
        # not compiled: directives, an interface, introspection
        ("query($yes: Boolean!) { first { id @include(if: $yes) } }", ["usual"]),
        ("{ named { name } }", ["usual"]),
        ("{ __schema { queryType { name } } }", ["usual"]),
    ],
)
async def test_which_queries_run_compiled(query: str, runs: list[str]) -> None:
    stock = strawberry.Schema(query=Query)
    watched = strawberry.Schema(query=Query, execution_context_class=Watched)
    Watched.runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine left un-awaited by a given-up run
        assert await answer(watched, query) == await answer(stock, query)
        gc.collect()
    assert Watched.runs == runs


@strawberry.type
class Leaf:
    n: int

    @strawberry.field
    async def loaded(self, info: Info) -> int:
        return await info.context["loader"].load(self.n)


@strawberry.type
class Branch:
    leaves: list[Leaf]

    @strawberry.field
    async def more(self) -> list[Leaf]:
        return [Leaf(n=n + 100) for n in range(2)]


@strawberry.type
class Tree:
    @strawberry.field
    def branches(self) -> list[Branch]:
        return [Branch(leaves=[Leaf(n=n), Leaf(n=n + 10)]) for n in range(3)]


async def test_awaitables_of_one_level_are_awaited_together() -> None:
    """Data loaders batch under compiled queries: every `later` of a level is one batch."""
    batches: list[list[int]] = []

    async def load(keys: list[int]) -> list[int]:
        batches.append(keys)
        return [key * 10 for key in keys]

    schema = strawberry.Schema(query=Tree, execution_context_class=Watched)
    Watched.runs = []
    result = await schema.execute(
        "{ branches { leaves { loaded } more { loaded } } }",
        context_value={"loader": DataLoader(load_fn=load)},
    )
    assert result.errors is None
    assert Watched.runs == ["compiled"]
    assert result.data == {
        "branches": [
            {
                "leaves": [{"loaded": n * 10}, {"loaded": (n + 10) * 10}],
                "more": [{"loaded": 1000}, {"loaded": 1010}],
            }
            for n in range(3)
        ]
    }
    assert sorted(batches[0]) == [0, 1, 2, 10, 11, 12]  # the leaves, in one batch
    assert sorted(batches[1]) == [100, 101]  # the more's leaves, once `more` was awaited
    assert len(batches) == 2


@strawberry.type
class OtherQuery:
    @strawberry.field
    def first(self) -> Box:
        return BOXES[0]


async def test_a_document_shared_by_two_schemas_runs_on_each_its_own() -> None:
    """The parser cache hands the same document to every schema that parses the same text."""
    items = strawberry.Schema(
        query=Query, extensions=[lambda: ParserCache(maxsize=10)], execution_context_class=Watched
    )
    boxes = strawberry.Schema(
        query=OtherQuery,
        extensions=[lambda: ParserCache(maxsize=10)],
        execution_context_class=Watched,
    )
    Watched.runs = []
    for _ in range(2):
        assert (await items.execute("{ first { __typename } }")).data == {
            "first": {"__typename": "Item"}
        }
        assert (await boxes.execute("{ first { __typename } }")).data == {
            "first": {"__typename": "Box"}
        }
    assert Watched.runs == ["compiled"] * 4


@pytest.mark.parametrize(
    "query",
    [
        # an error raised by a resolver below the root, after the roots resolved
        "{ tracked { seen seenLater shout } trackedNow { seen } }",
        # an async error, with its siblings' values awaited in the same level
        "{ trackedNow { seen seenLater failsLater } tracked { seenLater } }",
        # given up before the async roots were awaited: a null in a non-null place at once
        "{ trackedNow { must } tracked { seen } }",
        # the same object twice at one field node
        "{ first { twin { seen } } tracked { twin { seenLater shout } } }",
    ],
)
async def test_a_given_up_run_calls_no_resolver_twice(query: str) -> None:
    stock, short = schemas()
    watched = strawberry.Schema(query=Query, execution_context_class=Watched)
    Watched.runs = []
    CALLS.clear()
    expected = await answer(stock, query)
    stock_calls = dict(CALLS)
    for schema in (short, watched):
        CALLS.clear()
        assert await answer(schema, query) == expected
        # Each root resolver ran once, as in stock Strawberry; none below ran more often than
        # there (an async body may be cancelled before it starts, as the error nulls its
        # parent: when exactly depends on the event loop's turns).
        assert {name: CALLS[name] for name in ("tracked", "tracked_now")} == {
            name: stock_calls.get(name, 0) for name in ("tracked", "tracked_now")
        }
        assert all(CALLS[name] <= stock_calls.get(name, 0) for name in CALLS), CALLS
    assert Watched.runs == ["compiled", "usual"]
