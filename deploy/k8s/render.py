"""Offline renderer of deploy/k8s: exactly the kustomize features these manifests use.

    python deploy/k8s/render.py deploy/k8s/overlays/production > manifests.yaml

prints the same objects as `kubectl kustomize deploy/k8s/overlays/production` (or `kustomize
build`), without needing either: the tests render both overlays with it and validate the result
offline (tests/foundation/test_k8s_manifests.py), and compare it with kubectl's rendering where
kubectl is installed. A kustomization that uses anything else fails loudly (RenderError) instead
of rendering something different from kustomize.

Supported, with kustomize's semantics:
- `resources`: YAML files (several documents each) and directories holding a kustomization;
- `namespace`; `labels` (`pairs` on every object's metadata, without selectors or templates);
- `images` (`newName`, `newTag`); `replicas` (`name`, `count`);
- `patches`: JSON 6902 operations (add, replace, remove), inline (`patch`) or in a file
  (`path`), on the objects matching `target` (`kind`; `name` is an anchored regular expression);
- `configMapGenerator` / `secretGenerator` from `envs` files and `literals`, `behavior` create,
  merge or replace; their names get kustomize's content-hash suffix and every reference to them
  in a pod spec (envFrom, env valueFrom, volumes) is renamed alike.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

KUSTOMIZATION_KEYS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "replicas",
    "patches",
    "configMapGenerator",
    "secretGenerator",
}
GENERATOR_KEYS = {"name", "behavior", "envs", "literals"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
}
WORKLOADS_WITH_REPLICAS = {"Deployment", "StatefulSet", "ReplicaSet"}
# Go's encoding/json escapes these; kustomize hashes Go's encoding.
_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028"}
_GO_JSON_ESCAPES["\u2029"] = "\\u2029"


class RenderError(Exception):
    pass


@dataclass
class Resource:
    obj: dict
    # A generated ConfigMap/Secret: data kept as plain strings, name hashed at the very end.
    generated: bool = False
    plain: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.obj["kind"]

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]


def render(path: str | Path) -> list[dict]:
    """Every object of the kustomization in `path`, as kustomize would output it."""
    resources = _build(Path(path))
    renames = {}
    for resource in resources:
        if resource.generated:
            old = resource.name
            resource.obj["metadata"]["name"] = f"{old}-{_name_hash(resource)}"
            renames[(resource.kind, old)] = resource.name
            resource.obj["data"] = _data(resource)
    for resource in resources:
        for pod in _pod_specs(resource.obj):
            _rename_references(pod, renames)
    return [resource.obj for resource in resources]


def render_yaml(path: str | Path) -> str:
    return yaml.safe_dump_all(render(path), sort_keys=True, default_flow_style=False)


# --- building one kustomization ---------------------------------------------------------------


def _build(directory: Path) -> list[Resource]:
    kustomization_file = directory / "kustomization.yaml"
    if not kustomization_file.is_file():
        raise RenderError(f"{directory}: no kustomization.yaml")
    kustomization = yaml.safe_load(kustomization_file.read_text()) or {}
    unknown = set(kustomization) - KUSTOMIZATION_KEYS
    if unknown:
        raise RenderError(f"{kustomization_file}: unsupported fields {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        target = directory / entry
        if target.is_dir():
            resources.extend(_build(target))
        else:
            docs = yaml.safe_load_all(target.read_text())
            resources.extend(Resource(doc) for doc in docs if doc)
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for generator in kustomization.get(key, []):
            _generate(directory, kind, generator, resources)
    for patch in kustomization.get("patches", []):
        _patch(directory, patch, resources)
    if "namespace" in kustomization:
        for resource in resources:
            if resource.kind in CLUSTER_SCOPED:
                raise RenderError(f"namespace on cluster-scoped {resource.kind} not supported")
            resource.obj["metadata"]["namespace"] = kustomization["namespace"]
    for entry in kustomization.get("labels", []):
        if set(entry) - {"pairs"} or not entry.get("pairs"):
            raise RenderError(f"labels: only `pairs` is supported, got {sorted(entry)}")
        for resource in resources:
            resource.obj["metadata"].setdefault("labels", {}).update(entry["pairs"])
    for entry in kustomization.get("replicas", []):
        _set_replicas(entry, resources)
    for entry in kustomization.get("images", []):
        _set_image(entry, resources)
    _check_unique(resources)
    return resources


def _check_unique(resources: list[Resource]) -> None:
    seen = set()
    for resource in resources:
        key = (resource.kind, resource.obj["metadata"].get("namespace"), resource.name)
        if key in seen:
            raise RenderError(f"duplicate object {key}")
        seen.add(key)


def _generate(directory: Path, kind: str, generator: dict, resources: list[Resource]) -> None:
    unknown = set(generator) - GENERATOR_KEYS
    if unknown:
        raise RenderError(f"{kind} generator: unsupported fields {sorted(unknown)}")
    data: dict[str, str] = {}
    for env_file in generator.get("envs", []):
        data.update(parse_env_file((directory / env_file).read_text()))
    for literal in generator.get("literals", []):
        key, sep, value = literal.partition("=")
        if not sep:
            raise RenderError(f"literal without '=': {literal!r}")
        data[key] = value
    name = generator["name"]
    behavior = generator.get("behavior", "create")
    existing = [r for r in resources if r.kind == kind and r.name == name]
    if behavior == "create":
        if existing:
            raise RenderError(f"{kind} {name} exists already: use behavior merge or replace")
        obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
        if kind == "Secret":
            obj["type"] = "Opaque"
        resources.append(Resource(obj, generated=True, plain=data))
    elif behavior in ("merge", "replace"):
        if len(existing) != 1 or not existing[0].generated:
            raise RenderError(f"{kind} {name}: nothing generated to {behavior}")
        if behavior == "replace":
            existing[0].plain.clear()
        existing[0].plain.update(data)
    else:
        raise RenderError(f"{kind} {name}: unknown behavior {behavior!r}")


def parse_env_file(text: str) -> dict[str, str]:
    """kustomize's env-file rules: leading blanks ignored, `#` lines and blank lines skipped,
    KEY=value split at the first `=`, the value taken literally (no quotes removed)."""
    data = {}
    for number, raw in enumerate(text.split("\n")):
        line = raw.removesuffix("\r")
        if number == 0:
            line = line.removeprefix("\ufeff")
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise RenderError(f"env line {number + 1}: {key!r} has no '=' (no value)")
        if not re.fullmatch(r"[-._a-zA-Z][-._a-zA-Z0-9]*", key):
            raise RenderError(f"env line {number + 1}: invalid name {key!r}")
        data[key] = value
    return data


# --- transformers ----------------------------------------------------------------------------


def _targets(target: dict, resources: list[Resource]) -> list[Resource]:
    unknown = set(target) - {"kind", "name"}
    if unknown:
        raise RenderError(f"patch target: unsupported selectors {sorted(unknown)}")
    matched = [
        r
        for r in resources
        if ("kind" not in target or re.fullmatch(target["kind"], r.kind))
        and ("name" not in target or re.fullmatch(target["name"], r.name))
    ]
    if not matched:
        raise RenderError(f"patch target {target} matches nothing")
    return matched


def _patch(directory: Path, patch: dict, resources: list[Resource]) -> None:
    if set(patch) - {"path", "patch", "target"} or ("path" in patch) == ("patch" in patch):
        raise RenderError(f"patches: give `target` and one of `path`/`patch`, got {sorted(patch)}")
    text = (directory / patch["path"]).read_text() if "path" in patch else patch["patch"]
    operations = yaml.safe_load(text)
    if not isinstance(operations, list):
        raise RenderError("only JSON 6902 patches (a list of operations) are supported")
    for resource in _targets(patch.get("target", {}), resources):
        for operation in operations:
            json_patch(resource.obj, operation)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise RenderError(f"JSON pointer {path!r} must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def json_patch(document: dict, operation: dict) -> None:
    """One RFC 6902 operation (add, replace, remove) applied in place."""
    op, parts = operation["op"], _pointer(operation["path"])
    parent = document
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    value = copy.deepcopy(operation.get("value"))
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op == "add":
            parent.insert(index, value)
        elif op == "replace":
            parent[index] = value
        elif op == "remove":
            del parent[index]
        else:
            raise RenderError(f"unsupported operation {op!r}")
        return
    if op in ("replace", "remove") and last not in parent:
        raise RenderError(f"{op} {operation['path']}: no such member")
    if op in ("add", "replace"):
        parent[last] = value
    elif op == "remove":
        del parent[last]
    else:
        raise RenderError(f"unsupported operation {op!r}")


def _set_replicas(entry: dict, resources: list[Resource]) -> None:
    matched = [
        r for r in resources if r.kind in WORKLOADS_WITH_REPLICAS and r.name == entry["name"]
    ]
    if not matched:
        raise RenderError(f"replicas: no workload named {entry['name']!r}")
    for resource in matched:
        resource.obj["spec"]["replicas"] = entry["count"]


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; a registry's port is not a tag."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def _set_image(entry: dict, resources: list[Resource]) -> None:
    if set(entry) - {"name", "newName", "newTag"}:
        raise RenderError(f"images: unsupported fields {sorted(entry)}")
    for resource in resources:
        for pod in _pod_specs(resource.obj):
            for container in pod.get("initContainers", []) + pod.get("containers", []):
                name, tag, digest = split_image(container["image"])
                if name != entry["name"]:
                    continue
                name = entry.get("newName", name)
                tag = str(entry["newTag"]) if "newTag" in entry else tag
                container["image"] = (
                    name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
                )


# --- generated names -------------------------------------------------------------------------


def _pod_specs(obj: dict) -> list[dict]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    pod = spec.get("template", {}).get("spec")
    return [pod] if pod else []


def encode_base64(value: str) -> str:
    """kustomize's encoding of a Secret's value: base64 in lines of 70 characters, each ended by
    a newline once there is more than one line (the API server's decoder skips newlines)."""
    encoded = base64.b64encode(value.encode()).decode()
    if len(encoded) // 70 + 1 == 1:
        return encoded
    return "".join(encoded[i : i + 70] + "\n" for i in range(0, len(encoded), 70))


def _data(resource: Resource) -> dict[str, str]:
    if resource.kind == "Secret":
        return {k: encode_base64(v) for k, v in resource.plain.items()}
    return dict(resource.plain)


def _name_hash(resource: Resource) -> str:
    """kustomize's suffix: the first 10 hex digits of the SHA-256 of Go's JSON encoding of
    {kind, name, data (, type)}, with 0 1 3 a e mapped to g h k m t (no bad words)."""
    encoded = {"kind": resource.kind, "name": resource.name, "data": _data(resource)}
    if resource.kind == "Secret":
        encoded["type"] = resource.obj.get("type", "Opaque")
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in _GO_JSON_ESCAPES.items():
        text = text.replace(char, escape)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def _rename_references(pod: dict, renames: dict) -> None:
    def rename(kind: str, holder: dict | None, key: str) -> None:
        if holder and (kind, holder.get(key)) in renames:
            holder[key] = renames[(kind, holder[key])]

    for container in pod.get("initContainers", []) + pod.get("containers", []):
        for source in container.get("envFrom", []):
            rename("ConfigMap", source.get("configMapRef"), "name")
            rename("Secret", source.get("secretRef"), "name")
        for variable in container.get("env", []):
            value_from = variable.get("valueFrom") or {}
            rename("ConfigMap", value_from.get("configMapKeyRef"), "name")
            rename("Secret", value_from.get("secretKeyRef"), "name")
    for volume in pod.get("volumes", []):
        rename("ConfigMap", volume.get("configMap"), "name")
        rename("Secret", volume.get("secret"), "secretName")
        for source in (volume.get("projected") or {}).get("sources", []):
            rename("ConfigMap", source.get("configMap"), "name")
            rename("Secret", source.get("secret"), "name")
    for pull_secret in pod.get("imagePullSecrets", []):
        rename("Secret", pull_secret, "name")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python deploy/k8s/render.py <kustomization directory>")
    try:
        sys.stdout.write(render_yaml(sys.argv[1]))
    except RenderError as exc:
        sys.exit(f"render: {exc}")
