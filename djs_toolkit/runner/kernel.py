"""How `djs run` starts a kernel: IPC where the platform has it, the kernel's own log kept out of the console.

Over TCP every kernel picks free ports itself, and two jobs starting kernels at the same moment can pick the same one
("ZMQError: Address already in use"); every TCP kernel also logs ipykernel's "running over TCP without encryption"
warning. A Unix socket (IPC transport) has neither problem, so it is used on Linux and macOS; Windows keeps TCP. The
kernel's own stdout and stderr (ipykernel's log, not the notebook's output, which goes into the executed notebook) go
to `runs/<run_id>/logs/<label>.kernel.log`, named in the summary when a kernel fails to start.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

__all__ = ["BatchKernelManager", "kernel_manager_for", "kernel_transport", "socket_prefix"]

# A Unix socket path holds at most 104 (macOS) to 108 (Linux) bytes; jupyter_client appends `-<port>` to the prefix.
_MAX_SOCKET_PREFIX = 90


def socket_prefix() -> str:
    """A short, new path prefix for a kernel's IPC sockets, in the temp folder.

    Example:
        >>> Path(socket_prefix()).name.startswith("djs-kernel-")
        True
    """
    return os.path.join(tempfile.gettempdir(), f"djs-kernel-{secrets.token_hex(4)}")


def kernel_transport() -> str:
    """`ipc` where Unix sockets exist and the socket path fits, `tcp` otherwise (Windows).

    Example:
        >>> kernel_transport() in ("ipc", "tcp")
        True
    """
    if sys.platform == "win32":
        return "tcp"
    return "ipc" if len(socket_prefix()) <= _MAX_SOCKET_PREFIX else "tcp"


class BatchKernelManager(AsyncKernelManager):
    """The kernel manager of a batch run: IPC transport where possible, the kernel's log in a file (`log_path`)."""

    log_path: str | None = None

    @default("transport")
    def _default_transport(self) -> str:
        return kernel_transport()

    @default("ip")
    def _default_ip(self) -> str:
        # IPC sockets get a short prefix of their own in the temp folder (jupyter_client's default derives it from
        # the connection file's path, which can be too long for a socket).
        return socket_prefix() if self.transport == "ipc" else super()._ip_default()

    async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
        """Start the kernel with its stdout and stderr in `log_path` (appended: a retried start keeps both logs)."""
        if not self.log_path or "stderr" in kw:
            await super().start_kernel(**kw)
            return
        Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the kernel process holds its own copy of the handle
            await super().start_kernel(**{"stdout": log, "stderr": log, **kw})


def kernel_manager_for(log_path: Path | None) -> type[BatchKernelManager]:
    """A `BatchKernelManager` class writing the kernel's log to `log_path` (nbclient takes a class, not an instance).

    Example:
        >>> kernel_manager_for(Path("runs/r/logs/a.kernel.log")).log_path.endswith("a.kernel.log")
        True
    """
    return type("BatchKernelManager", (BatchKernelManager,), {"log_path": str(log_path) if log_path else None})
