"""The home feed: fan-out on write into capped Redis sorted sets, hybrid push/pull for very
large accounts, rebuild on return, and fall-through to Postgres past the cached window."""
