"""Typed lines of the progress streams of pull and create (docs/ollama-api.md), as pydantic
models; loaded only by the calls that stream them, never by a plan."""

from __future__ import annotations

from reconciler.ollama.types import Digest, Reply


class PullProgress(Reply):
    """One line of a pull: a status, and for a layer its digest, total and completed bytes."""

    status: str
    digest: Digest | None = None
    total: int | None = None
    completed: int = 0  # Ollama omits it while it is 0

    @property
    def done(self) -> bool:
        """Whether this is the final `success` line."""
        return self.status == "success"


class CreateProgress(PullProgress):
    """One line of a create (it may include the lines of pulling the base model)."""
