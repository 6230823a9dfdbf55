from __future__ import annotations


class MediaRejected(Exception):
    """The content is not acceptable; the message is the reason shown to the uploader."""
