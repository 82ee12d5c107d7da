"""Run callables at the same moment, each in its own thread and database connection.

For tests of races between real transactions::

    @pytest.mark.django_db(transaction=True)
    def test_two_housekeepers_at_once():
        first, second = run_concurrently(lambda: mark(...), lambda: mark(...))
        assert first.error is None and second.error is None

The test must be ``transaction=True``: otherwise the rows it made sit in a transaction the
threads' connections cannot see. Every callable waits on one ``threading.Barrier``, so they
start together, and each thread closes its own connection when it ends. A callable that
does not finish within ``timeout`` seconds fails the test instead of hanging it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection, connections


@dataclasses.dataclass
class Outcome:
    """What one callable returned, or the exception it raised."""

    result: Any = None
    error: BaseException | None = None

    def value(self) -> Any:
        """The result, re-raising the callable's exception if it raised one."""
        if self.error is not None:
            raise self.error
        return self.result


def run_concurrently(*callables: Callable[[], Any], timeout: float = 60) -> list[Outcome]:
    """Start ``callables`` together, one thread and connection each; outcomes in their order."""
    if connection.in_atomic_block:
        raise RuntimeError(
            "run_concurrently needs @pytest.mark.django_db(transaction=True): the threads "
            "cannot see rows this test made inside its own transaction."
        )
    outcomes = [Outcome() for _ in callables]
    start = threading.Barrier(len(callables))

    def run(index: int, function: Callable[[], Any]) -> None:
        try:
            start.wait(timeout=timeout)
            outcomes[index].result = function()
        except BaseException as error:  # reported to the test, whatever it was
            outcomes[index].error = error
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, function), name=f"concurrent-{index}")
        for index, function in enumerate(callables)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    if stuck:
        raise AssertionError(f"{', '.join(stuck)} did not finish within {timeout} s")
    return outcomes
