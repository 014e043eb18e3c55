"""A customer's own things: saved delivery addresses and favourite stores."""
