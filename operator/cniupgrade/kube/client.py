"""The operator's API client: in-cluster credentials, else the kubeconfig (KUBECONFIG)."""
from __future__ import annotations

import functools
import json
import queue
import threading
from typing import Callable, Iterator, Mapping

from kubernetes import client, config
from kubernetes.config import kube_config

PAGE = 500


def api_client(pool_size: int = 32) -> client.ApiClient:
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        load_kubeconfig(configuration)
    configuration.connection_pool_maxsize = pool_size  # watch threads each hold a connection
    return client.ApiClient(configuration)


def load_kubeconfig(configuration: client.Configuration) -> None:
    """KUBECONFIG's credentials. The client calls the loader's refresh hook before every request; for a token that
    never expires (no exec plugin or auth provider) it only sets the same values again, at ~0.1 ms a request
    (100x the request's own auth work): it is dropped then."""
    loader = kube_config._get_kube_config_loader(filename=kube_config.KUBE_CONFIG_DEFAULT_LOCATION)
    loader.load_and_set(configuration)
    if "expiry" not in loader.__dict__:
        configuration.refresh_api_key_hook = None


@functools.cache
def streaming(api: client.ApiClient) -> client.ApiClient:
    """`api`'s credentials with a connection pool of its own, for watches. A watch holds its connection for
    minutes and leaves it dead when stopped: in the shared pool each plan's watches took the idle connections
    and gave back dead ones, so its first deletions each paid a new TLS connection (~30 ms for 8 of 10)."""
    return client.ApiClient(api.configuration)


IMPERSONATE_USER = "Impersonate-User"


def service_account_user(namespace: str, name: str) -> str:
    """The user name the API server gives a ServiceAccount (what impersonation and helm's --kube-as-user name)."""
    return f"system:serviceaccount:{namespace}:{name}"


@functools.lru_cache(maxsize=256)
def acting_client(api: client.ApiClient, namespace: str, service_account: str | None) -> client.ApiClient:
    """The client a plan makes its changes with: `api` itself or, when the plan names a ServiceAccount of its
    namespace, one that impersonates it (the API server then authorizes every request as that account)."""
    if not service_account:
        return api
    impersonating = client.ApiClient(api.configuration)
    impersonating.set_default_header(IMPERSONATE_USER, service_account_user(namespace, service_account))
    return impersonating


def on_streaming(call: Callable) -> Callable:
    """The same generated API call (say CoreV1Api(api).list_namespaced_pod) on streaming(api), for its watches;
    any other callable as it is."""
    owner = getattr(call, "__self__", None)
    api = getattr(owner, "api_client", None)
    if not isinstance(api, client.ApiClient):
        return call
    return getattr(type(owner)(streaming(api)), call.__name__)


def pages(list_fn: Callable, **kwargs) -> Iterator[list[dict]]:
    """The items of a list call, one page (limit/continue) at a time, as raw JSON."""
    token = None
    while True:
        page = json.loads(list_fn(**kwargs, limit=PAGE, _continue=token, _preload_content=False).data)
        yield page.get("items") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


def paginate(list_fn: Callable, **kwargs) -> Iterator[dict]:
    """Every item of a list call, page by page, as raw JSON."""
    for items in pages(list_fn, **kwargs):
        yield from items


_END = object()


def interleave(streams: Mapping[str, Iterator[list[dict]]], buffered: int = 4) -> Iterator[tuple[str, list[dict]]]:
    """(stream name, page) as pages arrive from several paged lists fetched at once, each in its own thread.

    The API server prepares the next pages of every list while the caller handles this one; at most
    `buffered` pages wait, so memory stays bounded whatever the lists hold. Each stream's pages come in
    their own order. An error in any stream is raised here; leaving early stops the fetchers."""
    ready: queue.Queue = queue.Queue(maxsize=buffered)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def fetch(name: str, stream: Iterator[list[dict]]) -> None:
        try:
            for page in stream:
                if not put((name, page)):
                    return
            put((name, _END))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put((name, exc))

    threads = [threading.Thread(target=fetch, args=item, name=f"list-{item[0]}", daemon=True)
               for item in streams.items()]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            name, page = ready.get()
            if page is _END:
                running -= 1
            elif isinstance(page, BaseException):
                raise page
            else:
                yield name, page
    finally:
        stop.set()
