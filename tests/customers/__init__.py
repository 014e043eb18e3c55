"""Tests of the address book and favourite stores."""
