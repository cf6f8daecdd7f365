"""Treatment recommendation with honest uncertainty (e.g. lens size from eye measurements)."""
