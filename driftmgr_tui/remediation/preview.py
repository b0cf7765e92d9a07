"""Previews: exactly what an action will do, built when the plan is made (commands, API calls, the state
diff of a dry run, the HCL a file will hold, the lines a .driftignore gains)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.drift.ignore import format_rule
from driftmgr_tui.remediation.planner import ActionSpec, codify_filename
from driftmgr_tui.remediation.strategies import Capabilities


def source_flags(source: dict[str, Any] | None) -> str:
    """The ``driftmgr state`` options that name this state."""
    if not source:
        return ""
    flags = []
    for key, flag in (("state_path", "--state"), ("chdir", "--chdir"), ("backend", "--backend"),
                      ("terragrunt_unit", "--terragrunt-unit"), ("workspace", "--workspace")):
        if source.get(key):
            flags.append(f"{flag} {shlex.quote(str(source[key]))}")
    return " ".join(flags)


def state_source(source: dict[str, Any] | None) -> Any:
    from driftmgr_tui.services.state_service import StateSource

    if not source:
        raise DriftmgrError("the action does not say which state it changes")
    return StateSource(state_path=Path(source["state_path"]) if source.get("state_path") else None,
                       chdir=Path(source["chdir"]) if source.get("chdir") else None,
                       backend=source.get("backend"), workspace=source.get("workspace"),
                       terragrunt_unit=Path(source["terragrunt_unit"]) if source.get("terragrunt_unit") else None)


def terraform_command(workdir: Path, *args: str) -> str:
    return " ".join(["terraform", f"-chdir={shlex.quote(str(workdir))}", *args])


class Previewer:
    """Fills in each action's preview and params."""

    def __init__(self, state_service: Any, caps: Capabilities, *, lock_timeout: float,
                 ignore_file: Path, generate_config: bool = True) -> None:
        self.states = state_service
        self.caps = caps
        self.lock_timeout = lock_timeout
        self.ignore_file = ignore_file
        self.generate_config = generate_config
        self._names: set[str] = set()
        self._files: set[str] = set()
        self.codify: list[ActionSpec] = []

    def __call__(self, spec: ActionSpec) -> None:
        name = spec.strategy.name
        handler = getattr(self, f"_{name}_{spec.item.kind}", None) or getattr(self, f"_{name}")
        handler(spec)
        spec.params.setdefault("source", spec.item.source)

    # -- missing ----------------------------------------------------------------------------------------

    def _forget(self, spec: ActionSpec) -> None:
        from driftmgr_tui.remediation.codegen import removed_block

        item = spec.item
        dry = self.states.rm(state_source(item.source), [item.address], dry_run=True)
        spec.params.update(address=item.address)
        spec.preview = {
            "summary": f"remove {item.address} from {item.state} (the state is backed up first)",
            "commands": [f"driftmgr state rm {shlex.quote(item.address or '')} {source_flags(item.source)}".strip()],
            "state_diff": dry.diff.lines(),
            "serial": [dry.old_serial, dry.new_serial],
            "hcl_alternative": removed_block(item.address or ""),
            "note": "or, on the code side: delete the resource block and add this removed block (Terraform 1.7+)",
        }

    def _targeted_apply(self, spec: ActionSpec, *, refresh_only: bool) -> None:
        item = spec.item
        assert self.caps.workdir is not None
        flags = ["-refresh-only"] if refresh_only else []
        target = f"-target={shlex.quote(item.address or '')}"
        spec.params.update(address=item.address, workdir=str(self.caps.workdir), refresh_only=refresh_only)
        spec.preview["commands"] = [
            "driftmgr state backup " + source_flags({"chdir": str(self.caps.workdir)}),
            terraform_command(self.caps.workdir, "plan", *flags, "-input=false",
                              f"-lock-timeout={int(self.lock_timeout)}s", target, "-out=PLANFILE"),
            terraform_command(self.caps.workdir, "show", "-json", "PLANFILE")
            + "   # checked: it changes nothing but " + (item.address or ""),
            terraform_command(self.caps.workdir, "apply", "-input=false",
                              f"-lock-timeout={int(self.lock_timeout)}s", "PLANFILE"),
        ]

    def _recreate(self, spec: ActionSpec) -> None:
        spec.preview = {"summary": f"create {spec.item.address} again from the code in {self.caps.workdir}"}
        self._targeted_apply(spec, refresh_only=False)

    # -- changed ----------------------------------------------------------------------------------------

    def _revert(self, spec: ActionSpec) -> None:
        spec.preview = {
            "summary": f"set {spec.item.address} back to what the code says (terraform apply -target)",
            "changes": [{"path": d["path"], "from": d.get("actual"), "to": d.get("expected")}
                        for d in spec.item.diffs],
        }
        self._targeted_apply(spec, refresh_only=False)

    def _accept(self, spec: ActionSpec) -> None:
        item = spec.item
        changes = [{"path": d["path"], "from": d.get("expected"), "to": d.get("actual")} for d in item.diffs]
        if spec.params.get("mode") == "terraform":
            spec.preview = {"summary": f"take the cloud's values of {item.address} into the state "
                                       "(terraform apply -refresh-only -target)", "changes": changes}
            self._targeted_apply(spec, refresh_only=True)
            return
        values = item.accepted_attributes()
        dry = self.states.set_attributes(state_source(item.source), item.address or "", values,
                                         reason="preview", dry_run=True)
        assert item.attributes is not None
        spec.params.update(address=item.address, values=values)
        spec.preview = {
            "summary": f"write the cloud's values of {item.address} into {item.state} (backed up first)",
            "changes": changes,
            "state_edit": {key: {"from": item.attributes.get(key), "to": value} for key, value in values.items()},
            "state_diff": dry.diff.lines(),
            "serial": [dry.old_serial, dry.new_serial],
            "commands": [f"driftmgr state backup {source_flags(item.source)}".strip(),
                         f"set {', '.join(sorted(values))} of {item.address} in {item.state}"],
            "note": "the code still says otherwise: update it, or the next terraform apply changes the cloud back",
        }

    def _ignore_changed(self, spec: ActionSpec) -> None:
        item = spec.item
        lines = sorted({format_rule(item.terraform_type, item.terraform_id, d["path"]) for d in item.diffs
                        if d.get("path") not in (None, ".")})
        self._ignore(spec, lines)

    # -- unmanaged --------------------------------------------------------------------------------------

    def _ignore(self, spec: ActionSpec, lines: list[str] | None = None) -> None:
        item = spec.item
        if lines is None:
            lines = [format_rule(item.terraform_type, item.terraform_id)]
        spec.params.update(file=str(self.ignore_file), lines=lines)
        spec.preview = {
            "summary": f"add {len(lines)} rule(s) to {self.ignore_file}",
            "file": str(self.ignore_file),
            "lines": lines,
        }

    def _codify(self, spec: ActionSpec) -> None:
        from driftmgr_tui.remediation.codegen import codify_document, codify_item

        item = spec.item
        assert self.caps.workdir is not None and item.cloud is not None
        codified = codify_item(item.terraform_type, item.terraform_id, item.name, item.cloud.get("tags") or {},
                               item.cloud.get("attributes") or {}, taken=self._names)
        address = codified.address
        filename = codify_filename(address.split(".", 1)[1], self._files, self.caps.workdir)
        hcl = codify_document([codified],
                              header=f"{item.terraform_type} {item.terraform_id}: brought under Terraform by "
                                     f"driftmgr (review, then terraform plan / apply imports it)")
        spec.params.update(address=address, import_id=codified.import_id, file=str(self.caps.workdir / filename),
                           hcl=hcl, workdir=str(self.caps.workdir))
        spec.preview = {
            "summary": f"write {filename} in {self.caps.workdir}: an import block and a resource block for "
                       f"{item.terraform_type} {item.terraform_id}",
            "file": str(self.caps.workdir / filename),
            "hcl": hcl,
            "generated_by": "driftmgr (from the discovered attributes)",
            "commands": [terraform_command(self.caps.workdir, "plan"), "   # shows the import; then apply"],
        }
        self.codify.append(spec)

    def _delete(self, spec: ActionSpec) -> None:
        from driftmgr_tui.remediation.cloud_ops import plan_delete

        item = spec.item
        attributes = (item.cloud or {}).get("attributes") or {}
        plan = plan_delete(item.provider, item.terraform_type, item.terraform_id, item.region, attributes)
        spec.params.update(provider=item.provider, region=item.region, attributes=attributes,
                           confirm=item.terraform_id)
        undo = ("`driftmgr remediate rollback` brings it back within the recovery window" if plan.reversible
                else "This cannot be undone.")
        spec.preview = {
            "summary": f"DELETE {item.terraform_type} {item.terraform_id} in {item.region or item.account} with the "
                       f"{item.provider} API. {undo[0].upper() + undo[1:]}",
            "api_calls": [call.describe() for call in plan.calls],
            "notes": [*list(plan.notes), plan.reverse_note],
            "confirm": f"approving needs the id typed back: --confirm {item.terraform_id}",
        }

    # -- after every action: terraform's own generated configuration for the codify actions ---------------

    def finish(self, terraform_factory: Any) -> list[str]:
        """Replace the skeletons of codify actions with ``terraform plan -generate-config-out`` output when
        terraform can run here; a warning per failure (the skeleton stays)."""
        if not self.codify or not self.generate_config or self.caps.terraform is None:
            return []
        from driftmgr_tui.remediation.codegen import generate_with_terraform, import_block

        imports = [(s.params["address"], s.params["import_id"]) for s in self.codify]
        try:
            tf = terraform_factory(self.caps.workdir)
            tf.init()
            generated = generate_with_terraform(tf, imports)
        except DriftmgrError as exc:
            return [f"terraform could not generate the configuration of {len(imports)} codified resource(s): "
                    f"{exc.message}; skeletons built from the discovered attributes are used"]
        chunks = split_generated(generated)
        warnings = []
        for spec in self.codify:
            address = spec.params["address"]
            block = chunks.get(address)
            if block is None:
                warnings.append(f"terraform generated no configuration for {address}: the skeleton is used")
                continue
            hcl = f"# {spec.item.terraform_type} {spec.item.terraform_id}: generated by terraform " \
                  f"(plan -generate-config-out); review before applying\n\n" \
                  + import_block(address, spec.params["import_id"]) + "\n" + block.strip() + "\n"
            spec.params["hcl"] = hcl
            spec.preview["hcl"] = hcl
            spec.preview["generated_by"] = "terraform plan -generate-config-out"
        return warnings


def split_generated(text: str) -> dict[str, str]:
    """``terraform plan -generate-config-out`` output split per resource address."""
    import re

    head = re.compile(r'^resource\s+"([^"]+)"\s+"([^"]+)"\s*\{')
    chunks: dict[str, list[str]] = {}
    pending: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        match = head.match(line)
        if match:
            current = chunks.setdefault(f"{match[1]}.{match[2]}", [])
            current.extend(pending)
            pending = []
            current.append(line)
        elif line.startswith("#") and (current is None or current[-1] == "}"):
            pending.append(line)
        elif current is not None:
            current.append(line)
    return {k: "\n".join(v) for k, v in chunks.items()}
