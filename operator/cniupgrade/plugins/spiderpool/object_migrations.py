"""The migrations of object_checks: carry the fields 1.0.0 renames or drops, create the defaults a pre-0.6.0
install never got. Decisions come from objects_1_0 and defaults; here they are read and written."""
from __future__ import annotations

from typing import Iterable

from packaging.version import Version

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.plugins.spiderpool import defaults, facts, objects_1_0
from cniupgrade.plugins.spiderpool.readiness import controller_unready, webhook_refusal
from cniupgrade.plugins.spiderpool.reader import SpiderpoolReader, served_version, spider
from cniupgrade.plugins.spiderpool.scan import name_of
from cniupgrade.plugins.spiderpool.schema import fit_to_schema
from cniupgrade.preflight.framework import parse_version
from cniupgrade.seams.cluster import CRDS, DEPLOYMENTS, ClusterAccess, ClusterReads, items
from cniupgrade.seams.plugin import MigrationError


class ObjectMigrations:
    def __init__(self, spec: UpgradePlanSpec, reads: ClusterReads, writes: ClusterAccess):
        self.spec, self.reads, self.writes = spec, reads, writes

    def require_controller_ready(self) -> None:
        """Before changing SpiderIPPools or SpiderSubnets: fail at once, naming the controller, rather than have
        each write refused by a webhook nobody answers."""
        deployment = self.reads.get(DEPLOYMENTS, facts.CONTROLLER_DEPLOYMENT, self.spec.namespace)
        if reason := controller_unready(deployment, self.spec.namespace):
            raise MigrationError(webhook_refusal(reason))

    def _objects(self, plural: str) -> Iterable[tuple[str, dict]]:
        version = served_version(self.reads, plural)
        if version is not None:
            for obj in items(self.reads, spider(plural, version)):
                yield plural, obj

    def _patch(self, plural: str, obj: dict, body: dict) -> None:
        resource = spider(plural, served_version(self.reads, plural) or "v2beta1")
        self.writes.patch(resource, obj["metadata"]["name"], obj["metadata"].get("namespace"), body)

    def rewrite_1_0_fields(self) -> str:
        """Record old fields while the old CRDs keep them; write the renamed ones once the new CRDs serve them."""
        renames_served = objects_1_0.serves_new_names(self.reads.get(CRDS, facts.CRD_MULTUS_CONFIG))
        changes = []
        for plural, obj in (o for p in objects_1_0.PLURALS for o in self._objects(p)):
            if body := objects_1_0.record_patch(plural, obj):
                changes.append((plural, obj, body, "recorded"))
            elif renames_served and (body := objects_1_0.rename_patch(plural, obj)):
                changes.append((plural, obj, body, "renamed"))
        if not changes:
            return "no object holds a field 1.0.0 renames or drops that is not carried already"
        self.require_controller_ready()
        done: dict[str, list[str]] = {"recorded": [], "renamed": []}
        for plural, obj, body, change in changes:
            self._patch(plural, obj, body)
            done[change].append(f"{plural} {name_of(obj)}")
        said = []
        if done["recorded"]:
            said.append(f"recorded the fields 1.0.0 renames or drops of {', '.join(done['recorded'])} in annotation "
                        f"{objects_1_0.RECORD_ANNOTATION}")
        if done["renamed"]:
            said.append(f"wrote the renamed fields under their 1.0.0 names in {', '.join(done['renamed'])}")
        return "; ".join(said)

    def would_lose(self, crds: Iterable[dict]) -> list[str]:
        """Objects whose unrecorded fields these CRD manifests would prune (apply-crds refuses to apply them)."""
        lost = []
        for crd in crds:
            plural = next((p for p, name in objects_1_0.CRD_OF.items() if crd["metadata"]["name"] == name), None)
            pruned = set(objects_1_0.pruned_by(crd, plural)) if plural else set()
            for _, obj in (self._objects(plural) if pruned else ()):
                if fields := pruned & set(objects_1_0.unrecorded(plural, obj)):
                    lost.append(f"{plural} {obj['metadata']['name']} ({', '.join(sorted(fields))})")
        return lost

    def create_default_objects(self) -> str:
        """The default SpiderCoordinator and SpiderMultusConfig, as the init Job creates them, where missing."""
        release = SpiderpoolReader(self.reads).release(self.spec.namespace, self.spec.spiderpool.release_name)
        values = release.value if release else defaults.release_values({})
        target = parse_version(self.spec.target_version) or Version("0")
        wanted = [("spidercoordinators", defaults.default_coordinator(values, target))]
        if name := defaults.multus_config_name(values):
            wanted.append(("spidermultusconfigs", defaults.default_multus_config(name, self.spec.namespace)))
        created = []
        for plural, manifest in wanted:
            if manifest is None:
                continue
            version = served_version(self.reads, plural)
            if version is None:
                raise MigrationError(f"the {plural} CRD is not installed: the target's CRDs must be applied first "
                                     f"(spec.spiderpool.crdSourceConfigMap)")
            resource, meta = spider(plural, version), manifest["metadata"]
            if self.reads.get(resource, meta["name"], meta.get("namespace")) is None:
                # what the installed CRD does not declare it would prune anyway; a server-side apply refuses it
                stored = fit_to_schema(manifest, self.reads.get(CRDS, f"{plural}.{facts.GROUP}"))
                self.writes.apply(resource, {**stored, "apiVersion": f"{facts.GROUP}/{version}"})
                created.append(f"{manifest['kind']} {name_of(manifest)}")
        return f"created {', '.join(created)}" if created else "the default objects exist already"
