"""`enclave policy check | explain | apply`: validate, explain and apply the site's access policy."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

policy_app = typer.Typer(no_args_is_help=True, help="Check, explain and apply the access policy.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

PolicyDirOption = Annotated[
    Path | None, typer.Option("--policy-dir", help="Policy directory (default: settings policy_path or ENCLAVE_HOME/policy).")
]
APPLIED_FILE = "policy.applied"


def _settings(policy_dir: Path | None = None) -> Any:
    from enclave.settings import load_settings

    return load_settings(policy_path=str(policy_dir) if policy_dir else None)


@policy_app.command()
def check(policy_dir: PolicyDirOption = None) -> None:
    """Validate policy.yaml: every problem with its line and reason; exit 1 when any is an error."""
    from policies.load import check_policy

    settings = _settings(policy_dir)
    policy, problems, origin = check_policy(settings.policy_dir)
    for p in problems:
        colour = "red" if p.severity == "error" else "yellow"
        out.print(f"[{colour}]{escape(p.render(origin))}[/]", highlight=False)
    if policy is None:
        errors = sum(1 for p in problems if p.severity == "error")
        err.print(f"[bold red]policy rejected:[/] {errors} error(s); nobody gets access until they are fixed")
        raise typer.Exit(1)
    out.print(
        f"[green]✓[/] {escape(origin)} is valid (version {policy.version}): {len(policy.users)} users, "
        f"{len(policy.groups)} groups, {len(policy.label_rules)} label rules, question_logging={policy.question_logging}",
        highlight=False,
    )


@policy_app.command()
def explain(
    user: Annotated[str, typer.Option("--user", help="The user to explain.")],
    policy_dir: PolicyDirOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List what USER may read and why: groups, granted labels, and each ingested document."""
    from enclave.wiring import default_user, open_audit_log
    from ingest.manifest import Manifest
    from policies.explain import explain as explain_user
    from policies.load import load_policy

    settings = _settings(policy_dir)
    policy = load_policy(settings.policy_dir)
    documents: list[tuple[str, tuple[str, ...]]] = []
    metadata: dict[str, dict[str, str] | None] = {}
    if settings.manifest_path.exists():
        manifest = Manifest(settings.manifest_path)
        records = [r for r in manifest.all() if r.status == "ingested"]
        manifest.close()
        documents = [(r.source, r.labels) for r in records]
        metadata = {r.source: r.metadata for r in records}
    result = explain_user(policy, user, documents, metadata)
    open_audit_log(settings).append(
        "admin_action", default_user(), action="policy_explain", subject=user, policy_version=policy.version
    )
    if json_out:
        print(json.dumps({
            "user": result.user, "known": result.known, "groups": dict(result.groups), "labels": dict(result.labels),
            "denied_labels": result.denied_labels,
            "documents": [
                {"source": s, "allowed": d.allowed, "reason": d.reason, "labelled_by": result.label_rules.get(s, []),
                 **({"pending_labels": list(result.pending[s])} if s in result.pending else {})}
                for s, d in result.documents
            ],
        }))
        return
    for line in result.lines():
        out.print(escape(line), highlight=False)


@policy_app.command()
def apply(
    policy_dir: PolicyDirOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Recompute every document's labels from the policy and update the index (no re-embedding)."""
    from enclave.wiring import build_embedder, default_user, index_session, open_audit_log
    from ingest.errors import IngestError
    from ingest.manifest import Manifest
    from ingest.relabel import relabel
    from policies.engine import labels_for
    from policies.load import load_policy

    settings = _settings(policy_dir)
    policy = load_policy(settings.policy_dir)
    audit = open_audit_log(settings)
    actor = default_user()
    applied = settings.home / APPLIED_FILE
    previous = applied.read_text().strip() if applied.exists() else ""
    if previous != policy.version:
        audit.append("policy_change", actor, old_version=previous or None, new_version=policy.version)
    manifest = Manifest(settings.manifest_path)
    try:
        # One store session for the whole relabel: every chunk changes in one consistent step.
        with index_session(settings, build_embedder(settings)) as index:
            if not hasattr(index, "set_labels"):
                raise IngestError("this index backend cannot update labels in place", hint="re-ingest to apply the policy")
            report = relabel(manifest, index, partial(labels_for, policy))
    finally:
        manifest.close()
    audit.append("policy_apply", actor, policy_version=policy.version, **report.to_dict())
    applied.write_text(policy.version + "\n")
    if json_out:
        print(json.dumps({"policy_version": policy.version, **report.to_dict()}))
        return
    out.print(
        f"policy {policy.version} applied: {report.chunks_changed} chunk(s) in {len(report.documents_changed)} "
        f"of {report.documents} document(s) relabelled; nothing re-embedded",
        highlight=False,
    )
    if report.unlabelled:
        out.print(f"[yellow]{len(report.unlabelled)} document(s) have no label and are readable by nobody[/]")
    if report.metadata_never_recorded and any(rule.metadata for rule in policy.label_rules):
        out.print(
            f"[yellow]{len(report.metadata_never_recorded)} document(s) were ingested before Enclave recorded document "
            "metadata: metadata rules do not apply to them until they are ingested again[/]"
        )
