"""Who the API server says we are (`kubectl auth whoami`), to sign a rollback request's annotation value: the
object itself records only the field manager."""
from __future__ import annotations

from kubernetes import client
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

from cniupgrade.kubectl_plugin.connection import REQUEST_SECONDS


def who_am_i(api: client.ApiClient) -> str:
    """The authenticated user name, or "" when the server will not say (an old server, or refused): the request
    goes on without it."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    try:
        answer = client.AuthenticationV1Api(api).create_self_subject_review(review, _request_timeout=REQUEST_SECONDS)
    except (ApiException, HTTPError, OSError):
        return ""
    user = answer.status.user_info if answer and answer.status else None
    return (user.username or "") if user else ""
