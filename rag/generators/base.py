"""The generator port: chat messages in, streamed text out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, TypedDict


class Message(TypedDict):
    """One chat message."""

    role: str
    content: str


class Generator(Protocol):
    """A model that writes answers. Heavy loading happens in warm_up(), not in __init__."""

    @property
    def model_name(self) -> str:
        """The model's identity for citations and the audit log."""

    @property
    def model_sha256(self) -> str:
        """sha256 of the weights, or '' when the backend cannot know it."""

    @property
    def context_window(self) -> int:
        """Tokens the model can see at once."""

    def warm_up(self) -> None:
        """Load the model."""

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in this model."""

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        """Generate a reply, yielding text pieces as they come."""
