"""Package ollama."""
