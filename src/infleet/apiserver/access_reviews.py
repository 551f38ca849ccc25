"""Self reviews: "may I?" (``SelfSubjectAccessReview``, ``SelfSubjectRulesReview``) and "who am I?"
(``SelfSubjectReview``), answered for the caller and never stored.

The embedded clusters have one user, the admin of the kubeconfig, authenticated by its bearer token
and a member of ``system:masters``: every review answers allowed, as kube-apiserver's RBAC does for
cluster-admin. RBAC objects are stored and served but not enforced. ``http_api`` routes create
requests for these resources here, so ``kubectl auth can-i`` and ``kubectl auth whoami`` work.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from infleet.apiserver.body_decoding import decode_body
from infleet.apiserver.errors import Cause, bad_request, invalid, method_not_allowed
from infleet.apiserver.http_responses import json_response
from infleet.apiserver.kubeconfig import ADMIN_USER
from infleet.apiserver.review_protobuf import PROTOBUF_MEDIA_TYPE, ProtobufError, decode_review
from infleet.apiserver.routes import ResourcePath

ADMIN_GROUPS = ("system:masters", "system:authenticated")
_ALLOWED_REASON = (
    'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" '
    'to Group "system:masters"'
)
_REVIEWS = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"): "SelfSubjectAccessReview",
    ("authorization.k8s.io", "selfsubjectrulesreviews"): "SelfSubjectRulesReview",
    ("authentication.k8s.io", "selfsubjectreviews"): "SelfSubjectReview",
}
_MAX_BODY_BYTES = 1024 * 1024


def is_review(path: ResourcePath) -> bool:
    return (path.group, path.plural) in _REVIEWS


async def handle(path: ResourcePath, request: Request) -> Response:
    """Answer a POST of a review with the review and its status (201, as kube-apiserver answers)."""
    kind = _REVIEWS[(path.group, path.plural)]
    if request.method != "POST" or path.name is not None:
        raise method_not_allowed(f"{request.method} is not supported on {path.plural}: only create is")
    raw = await request.body()
    if len(raw) > _MAX_BODY_BYTES:
        raise bad_request(f"{kind}: the request body is larger than {_MAX_BODY_BYTES} bytes")
    body = _decode(raw, request.headers.get("content-type", "application/json"), kind)
    if not isinstance(body, dict):
        raise bad_request(f"{kind}: the request body must be a JSON or YAML object")
    api_version = f"{path.group}/{path.version}"
    if body.get("kind") not in (None, "", kind) or body.get("apiVersion") not in (None, "", api_version):
        raise bad_request(f'the body must be a {kind} of apiVersion "{api_version}"')
    spec: dict[str, Any] = body["spec"] if isinstance(body.get("spec"), dict) else {}
    answer: dict[str, Any] = {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"creationTimestamp": None},
    }
    if kind == "SelfSubjectAccessReview":
        _check_access_spec(spec, path.group)
        answer["spec"] = spec
        answer["status"] = {"allowed": True, "reason": _ALLOWED_REASON}
    elif kind == "SelfSubjectRulesReview":
        answer["spec"] = spec
        answer["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    else:
        answer["status"] = {"userInfo": {"username": ADMIN_USER, "groups": list(ADMIN_GROUPS)}}
    return json_response(answer, 201)


def _decode(raw: bytes, content_type: str, kind: str) -> Any:
    media = content_type.split(";", 1)[0].strip()
    if not raw.strip():
        return {}
    if media == PROTOBUF_MEDIA_TYPE:
        try:
            return decode_review(raw, kind)
        except ProtobufError as exc:
            raise bad_request(f"{kind}: the protobuf body could not be decoded: {exc}") from None
    return decode_body(raw, media).value


def _check_access_spec(spec: dict[str, Any], group: str) -> None:
    """Exactly one of resourceAttributes and nonResourceAttributes, as kube-apiserver requires."""
    given = [key for key in ("resourceAttributes", "nonResourceAttributes") if spec.get(key) is not None]
    if len(given) == 1:
        return
    cause = Cause(
        "FieldValueInvalid",
        'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
        "spec.resourceAttributes",
    )
    raise invalid("SelfSubjectAccessReview", "", [cause], group=group)
