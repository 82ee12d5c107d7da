"""Assert that PostgreSQL refused a write by one named constraint, not by any other."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.db import IntegrityError


@contextlib.contextmanager
def refused_by(constraint: str) -> Iterator[None]:
    """Expect the block to raise ``IntegrityError`` from the constraint named ``constraint``.

    The name is read from the error's diagnostics (``constraint_name``, which triggers set
    with ``RAISE ... USING CONSTRAINT``), so a different rule refusing the same write fails
    the test instead of passing it on a matching word in the message.
    """
    with pytest.raises(IntegrityError) as refused:
        yield
    diagnostics = getattr(refused.value.__cause__, "diag", None)
    assert getattr(diagnostics, "constraint_name", None) == constraint, str(refused.value)
