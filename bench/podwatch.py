"""Following one DaemonSet's pods from a thread: what was listed, then every event, resuming a dropped watch."""
from __future__ import annotations

import json
import threading
import time

from kubernetes import client, watch
from kubernetes.client.rest import ApiException


class RawWatch(watch.Watch):
    """Events as plain JSON: the client's model deserialization costs ~0.5 ms an event (json.dumps, then models),
    about 0.5 CPU-s per watcher per 100-node run, taken from the control plane's two cores and, in the floor's
    case, from the deleter's thread in the same process. Not `stream(..., deserialize=False)`: it is newer than
    the client versions pyproject allows (>=31), and its events lack the `raw_object` its own ERROR branch reads."""

    def get_return_type(self, func):
        return None


class PodFollower:
    """Subclasses say what an event means (`_record`) and what to do once the list is in (`_listed`)."""
    join_on_exit = True  # False: the run is timed at exit, and the watch notices the stop only at its next event

    def __init__(self, api: client.ApiClient, namespace: str, selector: str):
        self.core = client.CoreV1Api(api)
        self.namespace, self.selector = namespace, selector
        self._stop = threading.Event()
        self.listed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def wait_listed(self, timeout: float = 60) -> None:
        if not self.listed.wait(timeout):
            raise TimeoutError(f"pods of {self.namespace} not listed within {timeout}s")

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.join_on_exit:
            self._thread.join(10)

    def _record(self, kind: str, pod: dict) -> None:
        raise NotImplementedError

    def _listed(self) -> None:
        pass

    def _run(self) -> None:
        while not self._stop.is_set():
            version = self._list()
            self._follow(version)  # returns when the version expired (410): list again

    def _list(self) -> str:
        body = json.loads(self.core.list_namespaced_pod(self.namespace, label_selector=self.selector,
                                                        _preload_content=False).data)
        for pod in body["items"]:
            self._record("ADDED", pod)
        if not self.listed.is_set():
            self._listed()
            self.listed.set()
        return body["metadata"]["resourceVersion"]

    def _follow(self, version: str) -> None:
        while not self._stop.is_set():
            try:
                for event in RawWatch().stream(self.core.list_namespaced_pod, self.namespace,
                                                  label_selector=self.selector, resource_version=version,
                                                  timeout_seconds=5):
                    version = event["raw_object"]["metadata"]["resourceVersion"]
                    self._record(event["type"], event["raw_object"])
                    if self._stop.is_set():
                        return
            except Exception as exc:  # noqa: BLE001 - a dropped watch resumes from the last version seen
                if isinstance(exc, ApiException) and exc.status == 410:
                    return  # that version expired
                time.sleep(0.1)
