"""Notifications: made by workers from domain events, grouped, and pushed in real time."""
