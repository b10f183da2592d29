"""The operator's API client: in-cluster credentials, else the kubeconfig (KUBECONFIG)."""
from __future__ import annotations

import json
from typing import Callable, Iterator

from kubernetes import client, config

PAGE = 500


def api_client(pool_size: int = 32) -> client.ApiClient:
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        config.load_kube_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = pool_size  # watch threads each hold a connection
    return client.ApiClient(configuration)


def paginate(list_fn: Callable, **kwargs) -> Iterator[dict]:
    """Every item of a list call, page by page (limit/continue), as raw JSON."""
    token = None
    while True:
        page = json.loads(list_fn(**kwargs, limit=PAGE, _continue=token, _preload_content=False).data)
        yield from page.get("items") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return
