"""The part of Kustomize deploy/k8s uses, so the tests can render the overlays without the kustomize
binary (not installed here): resources (files and directories), namespace, images, replicas, and
patches that are strategic-merge files. A kustomization using anything else is refused rather than
half-rendered, so the overlays cannot drift beyond what is checked."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
# Lists Kubernetes merges by the items' name (patchMergeKey) instead of replacing them.
MERGE_BY_NAME = {"containers", "initContainers", "env", "volumes", "volumeMounts", "ports"}

Resource = dict[str, Any]


class Unsupported(ValueError):
    """The kustomization uses a field this renderer does not implement."""


def build(directory: Path) -> list[Resource]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise Unsupported(f"{directory}: {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        resources += build(path) if path.is_dir() else [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise Unsupported(f"{directory}: patch {patch}")
        _apply_patch(resources, yaml.safe_load((directory / patch["path"]).read_text()))
    for image in kustomization.get("images", []):
        _set_image(resources, image)
    for replicas in kustomization.get("replicas", []):
        _named(resources, replicas["name"], kinds={"Deployment", "StatefulSet"})["spec"]["replicas"] = replicas["count"]
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = kustomization["namespace"]
    return resources


def merge(base: Any, patch: Any, key: str = "") -> Any:
    """Strategic merge: maps recursively, named lists item by item, anything else replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for name, value in patch.items():
            merged[name] = merge(base[name], value, name) if name in base else copy.deepcopy(value)
        return merged
    if key in MERGE_BY_NAME and isinstance(base, list) and isinstance(patch, list):
        merged_list = copy.deepcopy(base)
        for item in patch:
            index = next((i for i, old in enumerate(merged_list) if old.get("name") == item.get("name")), None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def _named(resources: list[Resource], name: str, kinds: set[str]) -> Resource:
    found = [r for r in resources if r["kind"] in kinds and r["metadata"]["name"] == name]
    if len(found) != 1:
        raise ValueError(f"{len(found)} resources of kinds {sorted(kinds)} named {name!r}")
    return found[0]


def _apply_patch(resources: list[Resource], patch: Resource) -> None:
    target = _named(resources, patch["metadata"]["name"], kinds={patch["kind"]})
    resources[resources.index(target)] = merge(target, patch)


def _set_image(resources: list[Resource], image: dict[str, str]) -> None:
    for container in _containers(resources):
        name, _, _tag = container["image"].partition(":")
        if name == image["name"]:
            container["image"] = f"{image.get('newName', name)}:{image['newTag']}"


def _containers(resources: list[Resource]) -> list[dict[str, Any]]:
    found = []
    for resource in resources:
        spec = resource.get("spec", {}).get("template", {}).get("spec", {})
        found += spec.get("initContainers", []) + spec.get("containers", [])
    return found
