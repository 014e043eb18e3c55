"""The garbage collector of a node that holds thousands of sockets.

Each socket is a few hundred objects the collector tracks (its Engine.IO socket, queue and
tasks, the WebSocket's state), so with 2,500 sockets a full collection walks some 800,000
objects and stops the node for about half a second. With CPython's default thresholds (a young
collection every 700 new objects) the fan-out's in-flight packets and coroutines are promoted to
the oldest generation fast enough to cause a full collection every 5 to 7 seconds under load:
`delivery bench` saw every such pause as events delivered half a second late (the p99 at 5,000
subscribers). A young collection every 20,000 objects lets those objects die young instead, and
everything that exists once the node has started (modules, classes, the schema) is left out of
every collection for good.
"""

from __future__ import annotations

import gc

# New tracked objects between two young collections (CPython's default is 700).
YOUNG_THRESHOLD = 20_000


def tune() -> None:
    """Collect rarely and never walk the start-up objects again: called once, before serving."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
