"""The operator's API client: in-cluster credentials, else the kubeconfig (KUBECONFIG)."""
from __future__ import annotations

from kubernetes import client, config


def api_client(pool_size: int = 32) -> client.ApiClient:
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        config.load_kube_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = pool_size  # watch threads each hold a connection
    return client.ApiClient(configuration)
