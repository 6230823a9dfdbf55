"""Which reads of an operation may go to a Postgres replica (see domain/replicas): a query's,
unless its viewer wrote lately; after a viewer's mutation, their reads stay on the primary for
the sticky window."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from domain import replicas


class ReadRouting(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        viewer = getattr(context, "viewer_id", None)
        redis = context.runtime.redis
        kind = execution.operation_type
        allowed = False
        if kind is OperationType.QUERY and replicas.installed().usable:
            allowed = True
            if viewer is not None:
                try:
                    allowed = not await replicas.wrote_lately(redis, viewer)
                except Exception:  # Redis away: the primary is always right
                    allowed = False
        token = replicas.allow_stale_reads(allowed)
        try:
            yield
        finally:
            replicas.forget_stale_reads(token)
        if kind is OperationType.MUTATION and viewer is not None:
            with contextlib.suppress(Exception):  # best effort: the write itself is done
                await replicas.wrote(redis, viewer)
