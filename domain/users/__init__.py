"""Accounts: registration, credentials, tokens and profiles."""
