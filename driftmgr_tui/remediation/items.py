"""A drift item as remediation sees it: the report's item plus where its state lives, what it depends on,
and the discovered object behind it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftmgr_tui.discovery.model import TAGS_KNOWN
from driftmgr_tui.drift.normalize import SENSITIVE
from driftmgr_tui.drift.projections import PROJECTIONS


@dataclass
class PlanItem:
    fingerprint: str
    kind: str
    terraform_type: str
    terraform_id: str
    address: str | None = None
    module: str = ""
    provider: str = ""
    account: str = ""
    region: str = ""
    name: str | None = None
    severity: str = "medium"
    state: str | None = None  # location of the state that holds it
    diffs: list[dict[str, Any]] = field(default_factory=list)
    source: dict[str, Any] | None = None  # how to open that state again (StateSource fields)
    dependencies: list[str] = field(default_factory=list)  # resource addresses it depends on (from the state)
    attributes: dict[str, Any] | None = None  # the state instance's attributes
    cloud: dict[str, Any] | None = None  # the discovered object: attributes, tags, name, region

    @classmethod
    def from_report(cls, item: Mapping[str, Any]) -> PlanItem:
        return cls(fingerprint=item["fingerprint"], kind=item["kind"], terraform_type=item["terraform_type"],
                   terraform_id=item["terraform_id"], address=item.get("address"), module=item.get("module") or "",
                   provider=item.get("provider") or "", account=item.get("account") or "",
                   region=item.get("region") or "", name=item.get("name"), severity=item.get("severity", "medium"),
                   state=item.get("state"), diffs=list(item.get("diffs") or []))

    @property
    def label(self) -> str:
        return self.address or f"{self.terraform_type}.{self.terraform_id}"

    # -- taking the cloud's values into the state (accept without terraform) ------------------------------

    def state_edit_blocker(self) -> str | None:
        """Why the cloud's values cannot be written into the state by driftmgr itself; None when they can."""
        if self.attributes is None:
            return f"{self.label} was not found in its state {self.state}"
        if self.cloud is None:
            return "the discovered attributes are not available (the discovery run was pruned): scan again"
        try:
            self.accepted_attributes()
        except ValueError as exc:
            return str(exc)
        return None

    def accepted_attributes(self) -> dict[str, Any]:
        """The state attributes to set so that the state matches the cloud for every differing field.
        ValueError (the message says which field) when a field cannot be written without terraform."""
        if not self.diffs:
            raise ValueError("the item has no field differences to accept")
        assert self.attributes is not None and self.cloud is not None
        api = self.cloud.get("attributes") or {}
        pairs = dict(PROJECTIONS[self.terraform_type].fields) if self.terraform_type in PROJECTIONS else {}
        new: dict[str, Any] = {}
        for d in self.diffs:
            path = str(d.get("path", ""))
            if SENSITIVE in (d.get("expected"), d.get("actual")):
                raise ValueError(f"{path} is sensitive: a state edit would have to write a secret")
            top = path.split(".", 1)[0]
            if top in ("tags", "tags_all"):
                new.update(self._accepted_tags())
            elif top in pairs and pairs[top] in api:
                value = api[pairs[top]]
                if isinstance(value, dict | list) and isinstance(self.attributes.get(top), str):
                    value = json.dumps(value, separators=(",", ":"), sort_keys=True)  # a JSON document attribute
                new[top] = value
            elif top == "vpc_security_group_ids" and "SecurityGroups" in api:
                new[top] = sorted(g.get("GroupId") for g in api["SecurityGroups"] or ())
            elif top == "location" and self.provider == "azure" and api.get("location"):
                new[top] = api["location"]
            else:
                raise ValueError(f"{path} cannot be taken into the state without terraform")
        return new

    def _accepted_tags(self) -> dict[str, Any]:
        assert self.attributes is not None and self.cloud is not None
        if self.cloud.get("attributes", {}).get(TAGS_KNOWN) is False:
            raise ValueError("the cloud's tags were not read for this resource")
        cloud_tags = {k: v for k, v in (self.cloud.get("tags") or {}).items() if not k.startswith("aws:")}
        old_tags = self.attributes.get("tags") or {}
        old_all = self.attributes.get("tags_all") or {}
        if "tags_all" not in self.attributes:
            return {"tags": cloud_tags}
        # tags set in the resource follow the cloud; a tag added by hand becomes the resource's own; tags that
        # come from the provider's default_tags stay there
        tags = {k: cloud_tags[k] for k in old_tags if k in cloud_tags}
        tags.update({k: v for k, v in cloud_tags.items() if k not in old_all})
        return {"tags": tags or (None if self.attributes.get("tags") is None else {}), "tags_all": cloud_tags}
