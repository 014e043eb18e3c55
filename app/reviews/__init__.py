"""Ratings and reviews of delivered orders, and the store owner's replies."""
