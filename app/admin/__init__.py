"""The operations console: what an admin sees of the platform and does to it."""
