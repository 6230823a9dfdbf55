"""The social graph: follows, follow requests and blocks."""
