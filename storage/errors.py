"""Errors of the storage layer."""

from __future__ import annotations

from kernel.errors import DomainError


class StorageIntegrityError(DomainError):
    """Ciphertext was altered, reordered, cut or decrypted with the wrong key: no plaintext is released."""

    status = 422
    code = "storage_integrity"

    @classmethod
    def default_message(cls) -> str:
        return "Stored data failed its integrity check."


class StorageUnavailable(DomainError):
    """The storage backend cannot be reached or is full."""

    status = 503
    code = "storage_unavailable"

    @classmethod
    def default_message(cls) -> str:
        return "Storage is unavailable right now. Your exam answers are still saved."
