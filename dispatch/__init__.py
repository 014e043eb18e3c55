"""Rider shifts and positions, offers, assignment."""
