"""The exceptions of message derivation.

::

    RactorError (ractor_core)
    ├── MessageDeclarationError   a message class is declared wrongly (raised at import)
    ├── CodecError (ValueError)   a value or bytes do not fit a wire type
    │   ├── SerializationError    a value does not fit its wire type: to_bytes, serialize,
    │   │                         encode_reply, and a cluster variant's construction
    │   └── DeserializationError  bytes do not form a valid value or message: from_bytes,
    │                             deserialize, decode_reply
    └── GenError                  ractor-derive gen found a mistake in a source (file:line)

A message-level error names the variant (``.variant``, its wire tag) and the field
(``.field``) concerned; a value-level one (``to_bytes`` / ``from_bytes``) leaves them empty.
"""

from __future__ import annotations

from ractor_core import RactorError

__all__ = [
    "CodecError",
    "DeserializationError",
    "GenError",
    "MessageDeclarationError",
    "SerializationError",
]


class MessageDeclarationError(RactorError, TypeError):
    """A message class is declared wrongly: a field with no codec, a duplicate tag, ..."""


class CodecError(RactorError, ValueError):
    """Base of :class:`SerializationError` and :class:`DeserializationError`."""

    def __init__(self, message: str, *, variant: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.variant = variant
        self.field = field


class SerializationError(CodecError):
    """A value does not fit its wire type (300 in a ``U8``); nothing was sent."""


class DeserializationError(CodecError):
    """Bytes do not form a valid value or message; nothing was delivered."""


class GenError(RactorError):
    """A user mistake in a source of ``ractor-derive gen``: ``where`` is ``file:line``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: error: {message}")
        self.where = where
