"""Exceptions that carry their HTTP status; :mod:`uws.entrypoints` turns them into responses.

Messages are one sentence for a human (pyvo shows them to its user) and name the parameter
and the rule that was broken.
"""

from __future__ import annotations


def shown(value: str, limit: int = 40) -> str:
    """A client's value as quoted in an error message: never more than ``limit`` characters."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


class UWSError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(UWSError):
    status = 400


class Unauthorized(UWSError):
    status = 401


class Forbidden(UWSError):
    status = 403


class NotFound(UWSError):
    status = 404


class MethodNotAllowed(UWSError):
    status = 405

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(f"Method {method} is not allowed here; use {', '.join(allowed)}.")
        self.allowed = allowed


class Conflict(UWSError):
    status = 409
    retry_after = 1


class UnprocessableContent(UWSError):
    status = 422


class PayloadTooLarge(UWSError):
    status = 413


class UnsupportedMediaType(UWSError):
    status = 415


class ServiceUnavailable(UWSError):
    status = 503
    retry_after = 5


class SeeOther(Exception):
    """A 303 redirect to ``path``: relative to the API root (``async/<id>``) or a full URL."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path
