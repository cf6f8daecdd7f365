"""A tiny system used by tests/test_systems.py: it plugs in with one list entry."""
