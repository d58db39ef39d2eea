"""Closing what the Pulumi SDK leaves open, so a command-line tool ends quietly."""
from __future__ import annotations

import asyncio
import contextlib
import warnings


def close_event_loop() -> None:
    # The mock runtime runs the program on the thread's event loop; left open, its
    # destructor can print a traceback while the interpreter shuts down.
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")
        loop = asyncio.get_event_loop()
        if not loop.is_closed():
            loop.close()
