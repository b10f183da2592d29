"""A real local Kubernetes control plane for tests and the demo.

kube-apiserver, kube-controller-manager and kube-scheduler (k8s.io/kubernetes), etcd and kwok are built
from Go modules once, cached by version, and run as plain processes on loopback; kwok simulates nodes.
"""
