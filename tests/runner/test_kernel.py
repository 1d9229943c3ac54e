"""How `djs run` starts kernels: IPC sockets where the platform has them (no port races, no encryption warning),
TCP on Windows; the kernel's own log in a file."""

from __future__ import annotations

import sys
from pathlib import Path

from djs_toolkit.runner.kernel import BatchKernelManager, kernel_manager_for, kernel_transport, socket_prefix


def test_ipc_on_linux_tcp_on_windows():
    expected = "tcp" if sys.platform == "win32" else "ipc"
    assert kernel_transport() == expected
    km = kernel_manager_for(Path("k.log"))(kernel_name="python3")
    assert isinstance(km, BatchKernelManager) and km.transport == expected and km.log_path == "k.log"
    if expected == "ipc":
        assert Path(km.ip).name.startswith("djs-kernel-") and len(km.ip) < 90  # a socket path must stay short


def test_socket_prefixes_are_new_each_time():
    assert socket_prefix() != socket_prefix()
