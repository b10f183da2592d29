"""The operator's image run as deploy/deployment.yaml runs it: the image's entrypoint and user, a read-only root
filesystem with a tmpfs /tmp, no capabilities, no new privileges; on the host's network (as the local control
plane listens on loopback). buildah mounts the image's filesystem, runc runs it from a generated config.json
(`buildah run` has no read-only root)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from localcluster import buildah
from localcluster.waiting import wait_for

# runc, not crun: crun 1.8 refuses hosts with hybrid cgroups v1/v2 (as the CI machines are); runc runs there.
RUNTIME = "runc"


def _run(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed: {proc.stderr or proc.stdout}")
    return proc


def _user(config: dict) -> dict:
    uid, _, gid = (config.get("User") or "0").partition(":")
    return {"uid": int(uid), "gid": int(gid or uid)}  # numeric in our Dockerfile, as Kubernetes wants it


class ImageContainer:
    def __init__(self, image_name: str, workdir: Path, name: str, args: list[str], env: dict[str, str],
                 read_only_files: dict[str, Path]):
        self.image_name, self.workdir, self.name = image_name, workdir, name
        self.args, self.env, self.read_only_files = args, env, read_only_files
        self.bundle, self.log_path = workdir / "bundle", workdir / f"{name}.log"
        self.builder: str | None = None
        self.user: dict = {}
        self.proc: subprocess.Popen | None = None

    def _config(self, rootfs: str) -> dict:
        settings = buildah.config(self.image_name)
        (self.bundle / "config.json").unlink(missing_ok=True)
        _run([RUNTIME, "spec", "--bundle", str(self.bundle)])
        spec = json.loads((self.bundle / "config.json").read_text())
        process, self.user = spec["process"], _user(settings)
        process.update(terminal=False, user=self.user, cwd=settings.get("WorkingDir") or "/",
                       args=[*settings.get("Entrypoint", []), *self.args],  # args replace CMD, as a pod's do
                       env=[*settings.get("Env", []), *(f"{k}={v}" for k, v in self.env.items())],
                       noNewPrivileges=True, capabilities={k: [] for k in process["capabilities"]})
        process.pop("rlimits", None)  # the caller's, not the spec's small default
        spec["root"] = {"path": rootfs, "readonly": True}
        spec["hostname"] = self.name
        spec["mounts"] += [
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=1777", "size=512m"]},
            *({"destination": inside, "type": "bind", "source": str(outside), "options": ["rbind", "ro"]}
              for inside, outside in self.read_only_files.items())]
        linux = spec["linux"]
        linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "network"]  # hostNetwork
        return spec

    def start(self) -> None:
        self.bundle.mkdir(parents=True, exist_ok=True)
        self.builder = buildah.run("from", "--name", self.name, self.image_name).stdout.strip()
        try:
            rootfs = buildah.run("mount", self.builder).stdout.strip()
            (self.bundle / "config.json").write_text(json.dumps(self._config(rootfs), indent=1))
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen([RUNTIME, "run", "--bundle", str(self.bundle), self.name], stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            wait_for(self._started, 60, f"container {self.name} running")
        except BaseException:
            self.stop()
            raise

    def _started(self) -> bool:
        if not self.running:
            raise RuntimeError(f"container {self.name} exited at start:\n{self.log_tail()}")
        state = subprocess.run([RUNTIME, "state", self.name], capture_output=True, text=True)
        return state.returncode == 0 and json.loads(state.stdout)["status"] == "running"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pid(self) -> int:
        """The entrypoint's pid as the host sees it."""
        return json.loads(_run([RUNTIME, "state", self.name]).stdout)["pid"]

    def exec(self, *argv: str) -> subprocess.CompletedProcess:
        """Another process in the running container, as its user (as `kubectl exec` would)."""
        return subprocess.run([RUNTIME, "exec", "--user", f"{self.user['uid']}:{self.user['gid']}", self.name, *argv],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def stop(self, grace_seconds: float = 30) -> int | None:
        """SIGTERM, then SIGKILL after the grace period, as the kubelet does. The entrypoint's exit code, or None
        when it had to be killed (or was not running)."""
        code = None
        if self.running:
            subprocess.run([RUNTIME, "kill", self.name, "SIGTERM"], capture_output=True)
            try:
                code = self.proc.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                subprocess.run([RUNTIME, "kill", self.name, "SIGKILL"], capture_output=True)
                self.proc.wait(10)
        subprocess.run([RUNTIME, "delete", "--force", self.name], capture_output=True)
        if self.builder:
            buildah.run("rm", self.builder, check=False)  # unmounts it too
            self.builder = None
        return code

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
