"""Realtime events: published to Redis channels, fanned to local subscribers by one hub."""
