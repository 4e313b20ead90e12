"""Package manifest."""
