"""What a query can cost, worked out before it runs: the objects it can return, `first` (or its
default) multiplied down the tree, as GitHub's GraphQL API counts its node limit.

Every field whose type is an object counts the objects it can return for each object above it:
a paginated field (one with a `first` argument) up to `first` (or `last`) of them, a plain list
up to its bound in `LIST_BOUNDS`, anything else one. Connection, edge and page-info wrappers are the
page's structure, not objects of their own: they count nothing, and a connection's `edges`
multiply nothing that `first` has not already counted.

The same walk notes every page argument (`first`, `last`, `after`, `before`) with its literal or
its variable, so that a page out of bounds or a cursor that is no cursor is refused before the
query runs, wherever the list is: were it found by the list's resolver, the null it leaves
would climb to the object holding the list (connections are non-null), and `user { followers
(first: 500) }` would answer a null user.

The count is a formula of the document and its variables (`first: $n`): it is built once per
document, kept with the document's validation, and evaluated for each request. Fragments are
worked out once each, however often they are spread, so a document of nested spreads cannot
make the estimate itself expensive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)

from domain.messaging.service import MAX_MEMBERS
from domain.pagination import DEFAULT_PAGE_SIZE
from domain.posts.captions import MAX_MENTIONS
from domain.posts.service import MAX_MEDIA
from domain.stories.service import (
    MAX_HIGHLIGHT_STORIES,
    MAX_HIGHLIGHTS,
    MAX_LIVE_PER_DAY,
    MAX_TRAY,
)
from resolvers.global_ids import page_argument_error

# The most items a list field without `first` can hold (the domain's own limits), by
# "Type.field" or by the items' type. A list of objects with no bound here fails
# tests/test_query_cost.py, so a new one gets its bound the day it is added.
LIST_BOUNDS = {
    "Media.variants": 12,  # four widths in two formats, or a video's renditions
    "Post.media": MAX_MEDIA,
    "Post.mentions": MAX_MENTIONS,
    "Thread.participants": MAX_MEMBERS,
    # search(first:) already counted the page: its two lists multiply nothing more.
    "SearchResults.users": 1,
    "SearchResults.hashtags": 1,
    "Query.storyTray": MAX_TRAY,
    "StoryReel.stories": MAX_LIVE_PER_DAY,
    "Highlight.stories": MAX_HIGHLIGHT_STORIES,
    "User.highlights": MAX_HIGHLIGHTS,
    "UserError": 10,  # a payload's errors: one per input field at most
    "HttpHeader": 10,
}
WRAPPER_SUFFIXES = ("Connection", "Edge")
PAGE_ARGUMENTS = ("first", "last", "after", "before")
WRAPPERS = {"PageInfo"}


@dataclass
class Term:
    """count + the sum of factor * child, where factor is a constant or a variable's value."""

    count: int = 0
    children: list[tuple[Factor, Term]] = field(default_factory=list)
    pages: list[PageArgument] = field(default_factory=list)  # of the fields at this level


@dataclass(frozen=True)
class PageArgument:
    node: ArgumentNode
    literal: object = None
    variable: str | None = None


@dataclass(frozen=True)
class Factor:
    constant: int = 1
    variable: str | None = None  # the value of this variable, when it is given


def list_bound(field_name: str, item_type: str) -> int:
    bound = LIST_BOUNDS.get(field_name) or LIST_BOUNDS.get(item_type)
    return DEFAULT_PAGE_SIZE if bound is None else bound


def _is_wrapper(name: str) -> bool:
    return name in WRAPPERS or name.endswith(WRAPPER_SUFFIXES)


def _is_list(type_: GraphQLOutputType) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class _Builder:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.fragment_terms: dict[str, Term] = {}
        self.defaults: dict[str, int] = {}

    def operation(self, operation: OperationDefinitionNode) -> Term:
        for definition in operation.variable_definitions or ():
            if definition.default_value is not None:
                value = value_from_ast_untyped(definition.default_value)
                if isinstance(value, int):
                    self.defaults[definition.variable.name.value] = value
        root = self.schema.get_root_type(operation.operation)
        return self.selection(root, operation.selection_set) if root else Term()

    def selection(
        self, parent: object, selection_set: SelectionSetNode | None, into: Term | None = None
    ) -> Term:
        term = into or Term()
        if selection_set is None:
            return term
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                self.field(parent, node, term)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                typed = self.schema.get_type(condition.name.value) if condition else parent
                self.selection(typed, node.selection_set, term)
            elif isinstance(node, FragmentSpreadNode):
                term.children.append((Factor(), self.fragment(node.name.value)))
        return term

    def fragment(self, name: str) -> Term:
        known = self.fragment_terms.get(name)
        if known is None:
            definition = self.fragments[name]
            typed = self.schema.get_type(definition.type_condition.name.value)
            known = self.fragment_terms[name] = self.selection(typed, definition.selection_set)
        return known

    def field(self, parent: object, node: FieldNode, term: Term) -> None:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return  # a union's own fields: only __typename
        name = node.name.value
        definition = parent.fields.get(name)
        if definition is None or name.startswith("__"):
            return  # introspection is bounded by the depth limit
        named = get_named_type(definition.type)
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            return  # scalars and enums cost nothing
        factor = Factor()
        if "first" in definition.args:
            factor = self.first(node, definition.args["first"].default_value)
            term.pages.extend(_page_arguments(node))
        elif _is_list(definition.type) and not (name == "edges" and _is_wrapper(parent.name)):
            factor = Factor(constant=list_bound(f"{parent.name}.{name}", named.name))
        child = self.selection(named, node.selection_set)
        if not _is_wrapper(named.name):
            child.count += 1
        term.children.append((factor, child))

    def first(self, node: FieldNode, schema_default: object) -> Factor:
        default = schema_default if isinstance(schema_default, int) else DEFAULT_PAGE_SIZE
        for argument in node.arguments or ():
            if argument.name.value not in ("first", "last"):  # a page either way
                continue
            if isinstance(argument.value, IntValueNode):
                return Factor(constant=max(int(argument.value.value), 0))
            if isinstance(argument.value, VariableNode):
                variable = argument.value.name.value
                return Factor(constant=self.defaults.get(variable, default), variable=variable)
        return Factor(constant=default)


def _page_arguments(node: FieldNode) -> list[PageArgument]:
    found = []
    for argument in node.arguments or ():
        if argument.name.value in PAGE_ARGUMENTS:
            value = argument.value
            if isinstance(value, VariableNode):
                found.append(PageArgument(argument, variable=value.name.value))
            else:
                found.append(PageArgument(argument, literal=value_from_ast_untyped(value)))
    return found


@dataclass(frozen=True)
class CostPlan:
    """The cost formula of each operation of a document, by operation name ('' for the only
    unnamed one)."""

    operations: dict[str, Term]

    def _operation(self, operation_name: str | None) -> Term | None:
        term = self.operations.get(operation_name or "")
        if term is None and len(self.operations) == 1:
            term = next(iter(self.operations.values()))
        return term

    def cost(self, operation_name: str | None, variables: dict[str, object] | None) -> int:
        term = self._operation(operation_name)
        if term is None:
            return 0
        return _evaluate(term, variables or {}, {})

    def page_errors(
        self, operation_name: str | None, variables: dict[str, object] | None
    ) -> list[GraphQLError]:
        """The first bad page argument of the operation, as the request's error."""
        term = self._operation(operation_name)
        pending, seen = [term] if term else [], set()
        while pending:
            term = pending.pop()
            if id(term) in seen:
                continue
            seen.add(id(term))
            for page in term.pages:
                value = page.literal
                if page.variable is not None:
                    value = (variables or {}).get(page.variable)
                error = page_argument_error(page.node.name.value, value)
                if error is not None:
                    return [GraphQLError(error.message, page.node, extensions=error.extensions)]
            pending.extend(child for _, child in term.children)
        return []


def plan_cost(schema: GraphQLSchema, document: DocumentNode) -> CostPlan:
    builder = _Builder(schema, document)
    return CostPlan(
        {
            (d.name.value if d.name else ""): builder.operation(d)
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        }
    )


def _evaluate(term: Term, variables: dict[str, object], memo: dict[int, int]) -> int:
    known = memo.get(id(term))
    if known is not None:
        return known
    total = term.count
    for factor, child in term.children:
        value = factor.constant
        if factor.variable is not None:
            given = variables.get(factor.variable)
            if isinstance(given, int) and not isinstance(given, bool):
                value = max(given, 0)
        if value:
            total += value * _evaluate(child, variables, memo)
    memo[id(term)] = total
    return total
