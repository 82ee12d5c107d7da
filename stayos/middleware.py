"""Requests refused before any view sees them."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class RefuseNulInAddressMiddleware:
    """A NUL character in the query string is never meant: 400, not a database error.

    PostgreSQL text cannot hold NUL, so a search or filter value carrying one would fail
    deep inside a query. Form fields refuse it on their own (Django's text fields do).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        values = (item for key, items in request.GET.lists() for item in (key, *items))
        if any("\x00" in item for item in values):
            return HttpResponseBadRequest("The address holds a NUL character.")
        return self.get_response(request)
