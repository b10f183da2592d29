"""A small informer: paginated list, then watch from its resourceVersion, into a dict of objects.

Each object is kept as its transform makes it (like client-go's TransformFunc): a trimmed dict or the small
view the caller reads, so a cache of thousands of pods costs little memory and no model deserialization.
`on_change` is called after a change (of the part `wakes_on` picks), which is how the reconcile loop is woken
instead of polling.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Callable, Iterable, Protocol

import orjson
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from cniupgrade.kube.client import on_streaming

log = logging.getLogger(__name__)
PAGE_SIZE = 500
WATCH_TIMEOUT_SECONDS = 240


class Index(Protocol):
    def reset(self, items: Iterable[Any]) -> None: ...

    def replace(self, old: Any | None, new: Any | None) -> None: ...

    def snapshot(self) -> Any: ...


def _key(obj: dict) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


class WatchCache:
    def __init__(self, name: str, list_fn: Callable, on_change: Callable[[], None],
                 transform: Callable[[dict], Any] = lambda o: o, wakes_on: Callable[[Any], Any] = lambda i: i,
                 index: Index | None = None, not_older_than: str | None = None, watch_fn: Callable | None = None,
                 **list_kwargs):
        """`wakes_on(item or None)`: the part of an item whose change calls on_change (every change is stored).
        `index`: kept up to date item by item, under the cache's lock; read with snapshot().
        `not_older_than`: a resourceVersion from a consistent read; the first list is served from the API server's
        cache once that cache has reached it, instead of each list waiting for the server's next progress request
        to etcd (at most one per 100 ms per resource).
        `watch_fn`: what the watch calls; by default list_fn on client.streaming(), so lists use the request pool's
        warm connections and watches a pool of their own."""
        self.name = name
        self._list_fn, self._watch_fn, self._kwargs = list_fn, watch_fn or on_streaming(list_fn), list_kwargs
        self._not_older_than = not_older_than
        self.resource_version: str | None = None  # the newest version seen (list, event or bookmark)
        self._on_change, self._transform, self._wakes_on = on_change, transform, wakes_on
        self._items: dict[str, Any] = {}
        self._index = index
        self.version = 0  # bumped on every change, so readers can keep what they derived from the items
        self._lock = threading.Lock()
        self._synced = threading.Event()
        self._stopped = threading.Event()
        self._response = None
        self._thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)

    def start(self) -> WatchCache:
        self._thread.start()
        return self

    def list_once(self) -> WatchCache:
        """One paginated list in the caller's thread, no watch: the cache is synced and stays as listed."""
        self._list()
        return self

    def stop(self) -> None:
        """Never blocks: the socket is shut down under the reading thread, which then ends by itself."""
        self._stopped.set()
        response = self._response
        sock = getattr(getattr(response, "connection", None), "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # close() from here would wait on the reader's lock
            except OSError:
                pass

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def items(self) -> list[Any]:
        with self._lock:
            return list(self._items.values())

    def get(self, namespace: str, name: str) -> Any | None:
        with self._lock:
            return self._items.get(f"{namespace}/{name}")

    def snapshot(self) -> Any:
        """The index's view of the items, consistent with them."""
        with self._lock:
            return self._index.snapshot()

    # ---- the loop ------------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.5
        while not self._stopped.is_set():
            try:
                version = self._list()
                backoff = 0.5
                self._watch(version)
            except ApiException as exc:
                if exc.status != 410:  # 410 Gone: our resourceVersion expired, relist at once
                    log.warning("watch %s: API error %s, retrying in %.1fs", self.name, exc.status, backoff)
                    self._stopped.wait(backoff)
                    backoff = min(backoff * 2, 10)
            except Exception as exc:  # noqa: BLE001 - connection resets, apiserver restarts: relist
                if self._stopped.is_set():
                    return
                log.warning("watch %s: %s, retrying in %.1fs", self.name, exc, backoff)
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 10)

    def _list(self) -> str:
        items: dict[str, Any] = {}
        token = None
        since, self._not_older_than = self._not_older_than, None  # the first list only: a relist is consistent
        first_page = {"resource_version": since, "resource_version_match": "NotOlderThan"} if since else {}
        while True:
            version = {} if token else first_page  # a continued page carries its version in the token
            response = self._list_fn(**self._kwargs, limit=PAGE_SIZE, _continue=token, _preload_content=False,
                                     **version)
            page = orjson.loads(response.data)
            for obj in page.get("items") or []:
                items[_key(obj)] = self._transform(obj)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
        with self._lock:
            self._items = items
            if self._index is not None:
                self._index.reset(items.values())
            self.version += 1
        self.resource_version = page["metadata"]["resourceVersion"]
        self._synced.set()
        self._on_change()
        return self.resource_version

    def _watch(self, version: str) -> None:
        while not self._stopped.is_set():
            started = time.monotonic()
            self._response = self._watch_fn(**self._kwargs, watch=True, resource_version=version,
                                           allow_watch_bookmarks=True, timeout_seconds=WATCH_TIMEOUT_SECONDS,
                                           _preload_content=False)
            if self._stopped.is_set():  # stop() came while the watch was being opened: it found no socket
                self._response.release_conn()
                self._response = None
                return
            try:
                for line in iter_resp_lines(self._response):  # buffers events split across chunks
                    if line.strip():
                        version = self._apply(orjson.loads(line), version)
            finally:
                self._response.release_conn()
                self._response = None
            if time.monotonic() - started < 1 and not self._stopped.is_set():
                self._stopped.wait(0.5)  # a watch that ends at once should not spin

    def _apply(self, event: dict, version: str) -> str:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            raise ApiException(status=obj.get("code", 500), reason=obj.get("message", "watch error"))
        new_version = self.resource_version = (obj.get("metadata") or {}).get("resourceVersion", version)
        if kind == "BOOKMARK":
            return new_version
        key = _key(obj)
        with self._lock:
            old = self._items.get(key)
            if kind == "DELETED":
                self._items.pop(key, None)
                new = None
            else:
                new = self._items[key] = self._transform(obj)
            changed = old != new
            if changed:
                self.version += 1
                if self._index is not None:
                    self._index.replace(old, new)
        # e.g. a node's heartbeat leaves its view as it was: nobody needs to wake for it
        if changed and self._wakes_on(old) != self._wakes_on(new):
            self._on_change()
        return new_version
