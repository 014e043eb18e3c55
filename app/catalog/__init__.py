"""Stores, menus, images and the cached public reads."""
