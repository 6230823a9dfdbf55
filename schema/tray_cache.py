"""Which documents a kept story tray may answer (domain/stories/tray_cache): a query whose one
root field is `storyTray`, without directives, asking only for fields the tray's fingerprint
covers. A field outside these (a follower count, `viewCount`, `viewers`, a user's posts) can
change without the fingerprint knowing, so a document asking for one is always run.

Profile fields (a username, a name, an avatar) are covered: an edit notes the account as
changed, as a story does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import orjson
from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    Visitor,
    get_named_type,
    get_operation_ast,
    visit,
)

from schema.cost import CostPlan, plan_cost
from schema.root import parse_document

TRAY_FIELDS: dict[str, frozenset[str]] = {
    "Query": frozenset({"storyTray"}),
    "StoryReel": frozenset({"user", "stories", "hasUnseen", "latestAt"}),
    "Story": frozenset(
        {"id", "author", "media", "audience", "caption", "createdAt", "expiresAt", "viewerHasSeen"}
    ),
    "User": frozenset({"id", "username", "fullName", "avatar", "isPrivate"}),
    "Media": frozenset(
        {
            "id",
            "kind",
            "status",
            "width",
            "height",
            "blurhash",
            "durationMs",
            "createdAt",
            "variants",
            "url",
            "posterUrl",
            "playlistUrl",
        }
    ),
    "MediaVariant": frozenset({"url", "width", "height", "contentType"}),
}


@dataclass(frozen=True)
class TrayDocument:
    field: str  # the storyTray field's response key (its alias, if it has one)
    cost: CostPlan


class _Directives(Visitor):
    found = False

    def enter_directive(self, _node: DirectiveNode, *_: object) -> object:
        self.found = True
        return self.BREAK


def _covered(
    parent: GraphQLObjectType,
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    open_fragments: frozenset[str],
) -> bool:
    allowed = TRAY_FIELDS.get(parent.name, frozenset())
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            name = node.name.value
            if name == "__typename":
                continue
            definition = parent.fields.get(name)
            if name not in allowed or definition is None:
                return False
            if node.selection_set is not None:
                child = get_named_type(definition.type)
                if not isinstance(child, GraphQLObjectType) or not _covered(
                    child, node.selection_set, fragments, open_fragments
                ):
                    return False
        else:
            if isinstance(node, InlineFragmentNode):
                condition, selections = node.type_condition, node.selection_set
            elif isinstance(node, FragmentSpreadNode):
                fragment = fragments.get(node.name.value)
                if fragment is None or node.name.value in open_fragments:
                    return False
                condition, selections = fragment.type_condition, fragment.selection_set
                open_fragments = open_fragments | {node.name.value}
            else:
                return False
            if condition is not None and condition.name.value != parent.name:
                return False
            if not _covered(parent, selections, fragments, open_fragments):
                return False
    return True


def _tray_document(schema: GraphQLSchema, document: DocumentNode, name: str | None) -> str | None:
    operation = get_operation_ast(document, name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    directives = _Directives()
    visit(document, directives)
    if directives.found:
        return None
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode) or roots[0].arguments:
        return None
    root = roots[0]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    query = schema.query_type
    if query is None or not _covered(query, operation.selection_set, fragments, frozenset()):
        return None
    return (root.alias or root.name).value


@lru_cache(maxsize=256)
def tray_document(
    schema: GraphQLSchema, query: str, operation_name: str | None, max_tokens: int
) -> TrayDocument | None:
    """This document's tray field and cost, when a kept tray may answer it (worked out once per
    document text)."""
    try:
        document = parse_document(query, max_tokens)
    except GraphQLError:
        return None
    field = _tray_document(schema, document, operation_name)
    return None if field is None else TrayDocument(field, plan_cost(schema, document))


def document_key(
    query: str, operation_name: str | None, variables: dict[str, object] | None, base_url: str
) -> str:
    """The kept answer's name for this request: the document, its variables, and the address
    it was asked at (media URLs are made from it when PUBLIC_BASE_URL is not set)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (query, operation_name or "", base_url):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()
