"""Reading ahead in a thread: same items, same order, errors in their place, early stops clean up."""

from __future__ import annotations

import threading

import pytest

from spectfsl.core.prefetch import prefetched
from spectfsl.errors import SpectfslError


def test_items_come_in_order():
    assert list(prefetched(iter(range(1000)), depth=7)) == list(range(1000))


def test_an_error_is_raised_after_the_items_before_it():
    def items():
        yield from (1, 2)
        raise SpectfslError("bad.dcm: unreadable")

    seen = []
    with pytest.raises(SpectfslError, match="bad.dcm"):
        for item in prefetched(items(), depth=4):
            seen.append(item)
    assert seen == [1, 2]


def test_stopping_early_stops_the_reader():
    produced = []

    def items():
        for index in range(10_000):
            produced.append(index)
            yield index

    stream = prefetched(items(), depth=3)
    assert [next(stream) for _ in range(5)] == list(range(5))
    stream.close()
    assert not any(t.name == "spectfsl-prefetch" and t.is_alive() for t in threading.enumerate())
    assert len(produced) < 20
