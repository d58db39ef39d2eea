"""What the project's command-line tools share: how a command ends, whatever happens."""
from __future__ import annotations

import asyncio
import contextlib
import errno
import sys
import warnings
from typing import Callable

import pulumi

from localcloud.atomic import UnsafePath
from localcloud.emulator import PortInUse
from localcloud.kinds import DeployError
from localcloud.engine.stackfiles import StackFileError
from localcloud.engine.state import AlreadyRunning

# Errors a user can cause and fix; their messages say how.
USER_ERRORS: tuple[type[BaseException], ...] = (DeployError, StackFileError, pulumi.RunError,
                                                AlreadyRunning, PortInUse, UnsafePath)


def run_command(command: Callable[[], int], user_errors: tuple[type[BaseException], ...] = ()
                ) -> int:
    """Run a command: an error prints one line to stderr and exits 1, never a traceback."""
    try:
        return command()
    except (*USER_ERRORS, *user_errors) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {os_error_message(err)}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 -- a bug of ours: say so, without a traceback
        print(f"error: unexpected {type(err).__name__}: {err}; please report it with the "
              "command you ran", file=sys.stderr)
        return 1
    finally:
        _close_event_loop()


def os_error_message(err: OSError) -> str:
    """What the system refused, and on what; only a taken address is about --port."""
    if err.errno == errno.EADDRINUSE:
        return (f"{err.strerror or err}; a port is in use: pass another with --port N "
                "(--port 0 picks a free one)")
    names = " and ".join(str(name) for name in (err.filename, err.filename2) if name is not None)
    reason = err.strerror or str(err) or type(err).__name__
    return f"{names}: {reason}" if names else reason


def _close_event_loop() -> None:
    # The mock runtime runs the program on the thread's event loop. A program that failed
    # leaves tasks pending on it; closed as they are, each prints "Task was destroyed but
    # it is pending!" when collected. So end them first, as asyncio.run does.
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")
        loop = asyncio.get_event_loop()
        if loop.is_closed():
            return
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
