"""What the project's command-line tools share: how a command ends, whatever happens."""
from __future__ import annotations

import asyncio
import contextlib
import sys
import warnings
from typing import Callable

import pulumi

from localcloud.engine.kinds import DeployError
from localcloud.engine.stackfiles import StackFileError

# Errors a user can cause and fix; their messages say how.
USER_ERRORS: tuple[type[BaseException], ...] = (DeployError, StackFileError, pulumi.RunError)


def run_command(command: Callable[[], int], user_errors: tuple[type[BaseException], ...] = ()
                ) -> int:
    """Run a command: an error prints one line to stderr and exits 1, never a traceback."""
    try:
        return command()
    except (*USER_ERRORS, *user_errors) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {err}; if a port is in use, pass another with --port", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 -- a bug of ours: say so, without a traceback
        print(f"error: unexpected {type(err).__name__}: {err}; please report it with the "
              "command you ran", file=sys.stderr)
        return 1
    finally:
        _close_event_loop()


def _close_event_loop() -> None:
    # The mock runtime runs the program on the thread's event loop; left open, its
    # destructor can print a traceback while the interpreter shuts down.
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")
        loop = asyncio.get_event_loop()
        if not loop.is_closed():
            loop.close()
