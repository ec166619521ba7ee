"""Domain exceptions. No HTTP here: `registry.api.problems` maps them to statuses in one table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Violation:
    """One reason a document was refused, located by an RFC 6901 JSON pointer into the document."""

    pointer: str
    message: str


class RegistryError(Exception):
    """Base of every error the registry raises on purpose."""

    title = "Request refused"

    def __init__(self, detail: str = "", violations: list[Violation] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.violations = sorted(violations or [])


class BadRequest(RegistryError):
    """The request could not be read at all (unparsable JSON, bad cursor, bad query parameter)."""

    title = "Bad request"


class Unauthenticated(RegistryError):
    """No credentials, or credentials that do not identify anyone."""

    title = "Authentication required"


class Forbidden(RegistryError):
    """The caller is known but may not do this."""

    title = "Forbidden"


class NotFound(RegistryError):
    """The resource does not exist (or the caller may not know that it does)."""

    title = "Not found"


class Conflict(RegistryError):
    """The request clashes with the registry's state (a duplicate report number, a reused idempotency key)."""

    title = "Conflict"


class UnsupportedMediaType(RegistryError):
    """The body is not JSON."""

    title = "Unsupported media type"


class PayloadTooLarge(RegistryError):
    """The body exceeds the configured size limit."""

    title = "Payload too large"


class ContractViolation(RegistryError):
    """The document breaks the published JSON Schema."""

    title = "The document does not conform to the published schema"


class SemanticViolation(RegistryError):
    """The document is well-formed but contradicts the catalogue or itself (unknown clause, incoherent dates)."""

    title = "The document contradicts the registry's catalogue or itself"


class CatalogueError(RegistryError):
    """The reference data (catalogue files) is invalid; raised by the loader, never by a request."""

    title = "Invalid catalogue"
