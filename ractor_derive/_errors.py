"""The exceptions of message derivation.

::

    RactorError (ractor_core)
    ├── MessageDeclarationError   a message class is declared wrongly (raised at import)
    ├── SerializationError        a value does not fit its field's wire type (at send)
    ├── DeserializationError      received bytes do not form a valid message
    ├── CodecError                to_bytes / from_bytes of one value failed (ractor_derive._codecs)
    └── GenError                  ractor-derive gen found a mistake in a source (file:line)

Each names the message class, the variant and the field concerned.
"""

from __future__ import annotations

from ractor_core import RactorError

__all__ = ["DeserializationError", "MessageDeclarationError", "SerializationError"]


class MessageDeclarationError(RactorError, TypeError):
    """A message class is declared wrongly: a field with no codec, a duplicate tag, ..."""


class SerializationError(RactorError, ValueError):
    """A message could not be encoded: a field value does not fit its wire type."""

    def __init__(self, message: str, *, variant: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.variant = variant
        self.field = field


class DeserializationError(RactorError, ValueError):
    """Bytes from the network do not form a valid message; nothing was delivered."""

    def __init__(self, message: str, *, variant: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.variant = variant
        self.field = field
