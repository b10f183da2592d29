"""Start, watch and stop the control-plane processes; their pids live in the cluster's state file."""
from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path


class StartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(argv: list[str], log_path: Path) -> int:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        # A session of its own: Ctrl-C in a terminal reaches us, not the control plane, and we stop it in order.
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    return proc.pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is dead too
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def stop(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`: the process and anything in its session."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.05)


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def wait_healthy(name: str, url: str, pid: int, log_path: Path, timeout: float,
                 context: ssl.SSLContext | None = None, expect: bytes = b"ok") -> None:
    """Poll a health endpoint until it answers `expect`; fail with the log's tail if the process dies."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if not alive(pid):
            raise StartError(f"{name} exited during start-up. Last lines of {log_path}:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as resp:
                body = resp.read()
                if expect in body:
                    return
                last_error = body[:200].decode(errors="replace")
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.2)
    raise StartError(f"{name} not healthy at {url} after {timeout:.0f}s ({last_error}). "
                     f"Last lines of {log_path}:\n{tail(log_path)}")
