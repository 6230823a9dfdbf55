"""Captions: length, #hashtags and @mentions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import DomainError, ErrorCode

MAX_CAPTION = 2_200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
MAX_HASHTAG_LENGTH = 100
# A hashtag is letters, digits and underscores (any script), starting after a non-word char.
HASHTAG_RE = re.compile(r"(?<![\w#])#(\w+)", re.UNICODE)
MENTION_RE = re.compile(r"(?<![\w@.])@([A-Za-z0-9._]{1,30})(?![A-Za-z0-9_])")


@dataclass(frozen=True)
class ParsedCaption:
    text: str
    hashtags: list[str]  # lower-cased, first use order, distinct
    mentions: list[str]  # lower-cased usernames, distinct


def parse(caption: str, *, field: str = "caption") -> ParsedCaption:
    text = caption.strip()
    if len(text) > MAX_CAPTION:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"Captions are at most {MAX_CAPTION} characters.", field=field
        )
    hashtags = list(
        dict.fromkeys(
            tag.lower() for tag in HASHTAG_RE.findall(text) if len(tag) <= MAX_HASHTAG_LENGTH
        )
    )
    if len(hashtags) > MAX_HASHTAGS:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"Use at most {MAX_HASHTAGS} hashtags.", field=field
        )
    mentions = list(dict.fromkeys(name.lower().rstrip(".") for name in MENTION_RE.findall(text)))
    if len(mentions) > MAX_MENTIONS:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"Mention at most {MAX_MENTIONS} accounts.", field=field
        )
    return ParsedCaption(text, hashtags, mentions)
