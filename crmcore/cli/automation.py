"""``crm automation add|list|enable|disable|remove|runs|actions``: workflow rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx
from crmcore.cli.webhooks import run_service


def _read_rule(source: str) -> dict[str, Any]:
    """A rule from a JSON string, a file path, or ``-`` (standard input)."""
    text = source
    if source == "-":
        text = sys.stdin.read()
    elif not source.lstrip().startswith("{") and Path(source).is_file():
        text = Path(source).read_text(encoding="utf-8")
    try:
        rule = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="RULE") from exc
    if not isinstance(rule, dict):
        raise click.BadParameter("a rule is a JSON object", param_hint="RULE")
    return rule


@click.group()
def automation() -> None:
    """Workflow automation rules: trigger, conditions, actions; every run is logged."""


@automation.command()
@click.argument("rule")
@pass_ctx
def add(obj: CLIContext, rule: str) -> None:
    """Add a rule given as JSON (a string, a file, or - for standard input), e.g.

    \b
    {"name": "Follow up new customers",
     "trigger": {"event": "contact.stage_changed", "match": {"to": "customer"}},
     "actions": [{"action": "create_task", "subject": "Follow up", "in_days": 3}]}
    """
    from crmcore.services.actor import SYSTEM
    from crmcore.services.automation import create_rule

    spec = _read_rule(rule)
    created = run_service(obj, lambda: create_rule(spec, SYSTEM))
    click.echo(f"Rule {created['id']} ({created['name']}) added.")


@automation.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def list_(obj: CLIContext, as_json: bool) -> None:
    """Rules with their triggers."""
    from crmcore.services.automation import list_rules

    rules = run_service(obj, list_rules)
    if as_json:
        echo_json(rules)
        return
    if not rules:
        click.echo("No rules.")
    for rule in rules:
        trigger = rule["trigger"].get("event") or f"schedule {rule['trigger'].get('schedule')}"
        state = "on " if rule["enabled"] else "off"
        actions = ", ".join(step["action"] for step in rule["actions"])
        click.echo(f"{rule['id']:>4}  {state}  {rule['name']}  [{trigger} -> {actions}]")


def _toggle(obj: CLIContext, rule_id: int, enabled: bool) -> None:
    from crmcore.services.actor import SYSTEM
    from crmcore.services.automation import set_rule_enabled

    rule = run_service(obj, lambda: set_rule_enabled(rule_id, enabled, SYSTEM))
    click.echo(f"Rule {rule['id']} is {'enabled' if rule['enabled'] else 'disabled'}.")


@automation.command()
@click.argument("rule_id", type=int)
@pass_ctx
def disable(obj: CLIContext, rule_id: int) -> None:
    """Stop a rule from running."""
    _toggle(obj, rule_id, False)


@automation.command()
@click.argument("rule_id", type=int)
@pass_ctx
def enable(obj: CLIContext, rule_id: int) -> None:
    """Let a disabled rule run again."""
    _toggle(obj, rule_id, True)


@automation.command()
@click.argument("rule_id", type=int)
@pass_ctx
def remove(obj: CLIContext, rule_id: int) -> None:
    """Delete a rule and its run log."""
    from crmcore.services.actor import SYSTEM
    from crmcore.services.automation import delete_rule

    run_service(obj, lambda: delete_rule(rule_id, SYSTEM))
    click.echo(f"Removed rule {rule_id}.")


@automation.command()
@click.option("--rule", "rule_id", type=int, help="Only this rule's runs.")
@click.option("--limit", default=20, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def runs(obj: CLIContext, rule_id: int | None, limit: int, as_json: bool) -> None:
    """Recent runs, newest first, with each action's outcome."""
    from crmcore.services.automation import list_runs

    rows = run_service(obj, lambda: list_runs(rule_id, limit=limit))
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No runs.")
    for run in rows:
        click.echo(
            f"{run['id']:>6}  rule {run['rule_id']}  contact {run['contact_id']}  "
            f"{run['status']}  {run['started_at']:%Y-%m-%d %H:%M:%S}  {run['error']}"
        )
        for step in run["steps"]:
            detail = step.get("error") or json.dumps(step.get("result"), default=str)
            click.echo(f"          {step['action']}: {step['status']} {detail}")


@automation.command()
@pass_ctx
def actions(obj: CLIContext) -> None:
    """Actions rules may use, with their parameters."""
    from crmcore.services.automation import available_actions

    for action in available_actions(obj.pm).values():
        click.echo(f"{action.name}: {action.label}")
        for name, label in action.params.items():
            click.echo(f"    {name}: {label}")
