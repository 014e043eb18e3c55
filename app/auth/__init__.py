"""Accounts, sessions and the login guard."""
