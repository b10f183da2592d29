"""The operator under test: `cniupgrade run` as a child process, with a ServiceAccount kubeconfig."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class OperatorProcess:
    def __init__(self, kubeconfig: Path, log_path: Path, metrics_port: int, extra_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None):
        self.kubeconfig, self.log_path, self.extra_args = kubeconfig, log_path, extra_args
        self.env = env or {}  # the policy's environment, as the Deployment sets it
        self.metrics_port = metrics_port
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        env = {**os.environ, **self.env, "KUBECONFIG": str(self.kubeconfig)}
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts + 1} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen([sys.executable, "-m", "cniupgrade", "run", "--standalone", "--liveness=",
                                      f"--metrics-port={self.metrics_port}", *self.extra_args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no clean-up, no finalizers, as when a node dies under the operator."""
        if self.running:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.running:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
