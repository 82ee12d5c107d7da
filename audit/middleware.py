"""Carry the staff member and request details of each web request to the audit triggers."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.context import context

REQUEST_ID_HEADER = "X-Request-ID"


def client_ip(request: HttpRequest) -> str | None:
    """The peer address; proxies are trusted only through the server's own REMOTE_ADDR setup."""
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    """Sets ``audit.context`` for the duration of a request; it ends with the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        with context(
            user=user if user is not None and user.is_authenticated else None,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:512] or None,
            session_key=session.session_key if session is not None else None,
            request_id=request_id[:64],
            source="web",
        ):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response
