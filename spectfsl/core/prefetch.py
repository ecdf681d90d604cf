"""Overlapping input decoding with compute: an iterator advanced by a background thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

Item = TypeVar("Item")

_DONE = object()


def prefetched(items: Iterator[Item], depth: int) -> Iterator[Item]:
    """The items of `items` in order, produced by one background thread up to `depth` items ahead.

    Files are read and decoded (NumPy, pydicom, zlib release the GIL for much of it) while the caller
    runs the network. An exception in the producer is raised here, in its place; when the caller
    stops early, the producer stops at its next item.
    """
    buffer: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            put((_DONE, error))
            return
        put((_DONE, None))

    worker = threading.Thread(target=produce, name="spectfsl-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = buffer.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
