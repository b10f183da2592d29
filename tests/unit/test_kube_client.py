"""The operator's client drops the kubeconfig refresh hook only where it can refresh nothing."""
from __future__ import annotations

import json
import sys

import yaml
from kubernetes import client
from kubernetes.config import kube_config

from cniupgrade.kube.client import load_kubeconfig


def kubeconfig(tmp_path, user: dict):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "users": [{"name": "u", "user": user}]}))
    return path


def loaded(tmp_path, monkeypatch, user: dict) -> client.Configuration:
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig(tmp_path, user)))
    configuration = client.Configuration()
    load_kubeconfig(configuration)
    return configuration


def test_a_static_token_needs_no_hook_before_every_request(tmp_path, monkeypatch):
    configuration = loaded(tmp_path, monkeypatch, {"token": "abc"})
    assert configuration.refresh_api_key_hook is None
    assert configuration.auth_settings()["BearerToken"]["value"] == "Bearer abc"


def test_an_expiring_exec_credential_keeps_its_hook(tmp_path, monkeypatch):
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": "short-lived", "expirationTimestamp": "2099-01-01T00:00:00Z"}}
    script = tmp_path / "credential.py"
    script.write_text(f"print({json.dumps(json.dumps(credential))})\n")
    configuration = loaded(tmp_path, monkeypatch, {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "args": [str(script)],
        "interactiveMode": "Never"}})
    assert configuration.refresh_api_key_hook is not None
    assert configuration.auth_settings()["BearerToken"]["value"] == "Bearer short-lived"
