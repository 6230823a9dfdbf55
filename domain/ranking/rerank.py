"""The last step of the funnel: a diversity re-rank of items already ordered by value.

Walks the ordered list and takes the best item that keeps two rules: no author twice within
AUTHOR_SPACING consecutive items, and no source more than SOURCE_RUN times in a row (so one
source's picks do not fill a screen). When nothing left keeps a rule, the rule gives way
(the list is never cut short for it): first the source rule, then the author rule.
"""

from __future__ import annotations

from collections.abc import Sequence

AUTHOR_SPACING = 4
SOURCE_RUN = 3


def rerank(
    order: Sequence[int],
    authors: Sequence[int | None],
    sources: Sequence[int] | None = None,
    *,
    spacing: int = AUTHOR_SPACING,
    run: int = SOURCE_RUN,
) -> list[int]:
    """Indices of `order` re-ranked; `authors[i]`/`sources[i]` describe item i (None: unknown,
    never clashes; `sources` are bitmasks, two items share a source when they share a bit)."""
    left = list(order)
    out: list[int] = []
    while left:
        pick = _first(left, out, authors, sources, spacing, run)
        if pick is None:
            pick = _first(left, out, authors, None, spacing, run)
        if pick is None:
            pick = 0
        out.append(left.pop(pick))
    return out


def _first(
    left: list[int],
    out: list[int],
    authors: Sequence[int | None],
    sources: Sequence[int] | None,
    spacing: int,
    run: int,
) -> int | None:
    recent_authors = {authors[i] for i in out[-(spacing - 1) :]} if spacing > 1 else set()
    recent_authors.discard(None)
    streak = 0
    if sources is not None and len(out) >= run:
        streak = sources[out[-1]]
        for i in out[-run:]:
            streak &= sources[i]
    for n, item in enumerate(left):
        if authors[item] in recent_authors:
            continue
        if streak and sources is not None and sources[item] & streak == sources[item]:
            continue
        return n
    return None
