"""Feature store: versioned definitions, point-in-time training frames, the same values online."""
