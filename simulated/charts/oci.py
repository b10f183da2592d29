"""The test charts in an OCI registry (go-containerregistry's, built from Go modules, in memory), pushed with
helm: the chart path's oci:// source, served on a free port of the machine (plain HTTP)."""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from cniupgrade.kube.helm_cli import helm_env


class LoopbackOciRegistry:
    def __init__(self, registry: Path, helm: Path, archives: list[Path]):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen([str(registry), "-port", str(port)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.url = f"oci://127.0.0.1:{port}/charts"
        deadline = time.monotonic() + 15
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"the OCI registry did not listen on {port}")
            time.sleep(0.05)
        for archive in archives:
            subprocess.run([str(helm), "push", str(archive), self.url, "--plain-http"], check=True,
                           capture_output=True, timeout=60, env=helm_env())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
