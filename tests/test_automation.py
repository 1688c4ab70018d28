"""Workflow automation rules end to end: events through the outbox and the embedded job
runner, conditions with the contact filters, the core actions (task, field, tag, email over
real SMTP, webhook over real HTTP), delays and schedules with the clock moved forward."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email import message_from_bytes
from typing import Any

import pytest
from filter_support import name_starts_filter
from http_receiver import Receiver

from crmcore.errors import ValidationError
from crmcore.hookspecs import hookimpl
from crmcore.jobs import registry_for
from crmcore.jobs.clock import FrozenClock, frozen_clock
from crmcore.jobs.embedded import EmbeddedRunner
from crmcore.services.actor import SYSTEM
from crmcore.services.automation import Action, create_rule, list_runs, set_rule_enabled
from crmcore.services.automation_runs import evaluate_scheduled_rules
from crmcore.services.contacts import create_contact, get_contact, update_contact
from crmcore.services.filters import ContactFilter
from crmcore.services.interactions import log_interaction
from crmcore.services.webhooks import verify_signature
from crmcore.tables import Interaction

FOLLOW_UP = {
    "name": "Follow up new customers",
    "trigger": {"event": "contact.stage_changed", "match": {"to": "customer"}},
    "actions": [
        {"action": "create_task", "subject": "Follow up with {{ contact.name }}", "in_days": 3}
    ],
}


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    with frozen_clock() as frozen:
        yield frozen


@pytest.fixture
def runner(crm_db: Any, crm_pm: Any) -> EmbeddedRunner:
    return EmbeddedRunner(registry_for(crm_pm))


async def settle(runner: EmbeddedRunner, clock: FrozenClock) -> None:
    """Let the periodic dispatcher pick up new events, then run everything due."""
    clock.advance(seconds=5)
    await runner.run_until_idle()


async def tasks_of(contact_id: int) -> list[dict[str, Any]]:
    return (
        await Interaction.select()
        .where((Interaction.contact == contact_id) & (Interaction.status == "planned"))
        .order_by(Interaction.id)
    )


async def test_new_customer_gets_a_follow_up_task_for_the_owner_in_three_days(
    crm_user, runner, clock
):
    rule = await create_rule(FOLLOW_UP, SYSTEM)
    contact = await create_contact(
        {"first_name": "Leila", "last_name": "Ahmadi", "owner_id": crm_user["id"]}, SYSTEM
    )
    await update_contact(contact["id"], {"stage": "prospect"}, SYSTEM)
    await settle(runner, clock)
    assert await tasks_of(contact["id"]) == [], "only becoming a customer triggers the rule"

    await update_contact(contact["id"], {"stage": "customer"}, SYSTEM)
    became_customer = clock.current
    await settle(runner, clock)
    [task] = await tasks_of(contact["id"])
    assert task["subject"] == "Follow up with Leila Ahmadi"
    assert task["assignee"] == crm_user["id"]
    assert abs(task["due_at"] - (became_customer + timedelta(days=3))) < timedelta(seconds=10)
    [run] = await list_runs(rule["id"])
    assert run["status"] == "done" and run["contact_id"] == contact["id"]
    assert run["steps"][0]["action"] == "create_task" and run["steps"][0]["status"] == "ok"
    assert run["steps"][0]["result"]["task_id"] == task["id"]

    await settle(runner, clock)
    assert len(await tasks_of(contact["id"])) == 1, "a rule runs once per event"


async def test_delay_waits_in_the_queue_until_the_clock_gets_there(crm_user, runner, clock):
    rule = await create_rule(
        {**FOLLOW_UP, "actions": [{"action": "create_task", "subject": "Check in", "delay": "3d"}]},
        SYSTEM,
    )
    contact = await create_contact({"first_name": "Omid", "owner_id": crm_user["id"]}, SYSTEM)
    await update_contact(contact["id"], {"stage": "customer"}, SYSTEM)
    await settle(runner, clock)
    assert await tasks_of(contact["id"]) == []
    assert (await list_runs(rule["id"]))[0]["status"] == "waiting"
    clock.advance(days=2, hours=23)
    await runner.run_until_idle()
    assert await tasks_of(contact["id"]) == []
    clock.advance(hours=1)
    await runner.run_until_idle()
    [task] = await tasks_of(contact["id"])
    assert abs(task["due_at"] - clock.current) < timedelta(seconds=10)
    assert (await list_runs(rule["id"]))[0]["status"] == "done"


async def test_conditions_use_the_contact_filters(crm_user, runner, clock):
    rule = await create_rule({**FOLLOW_UP, "conditions": {"filter": "tag", "value": "vip"}}, SYSTEM)
    plain = await create_contact({"first_name": "Plain", "owner_id": crm_user["id"]}, SYSTEM)
    vip = await create_contact(
        {"first_name": "Vip", "owner_id": crm_user["id"], "tags": ["vip"]}, SYSTEM
    )
    for contact in (plain, vip):
        await update_contact(contact["id"], {"stage": "customer"}, SYSTEM)
    await settle(runner, clock)
    assert await tasks_of(plain["id"]) == [] and len(await tasks_of(vip["id"])) == 1
    runs = {run["contact_id"]: run for run in await list_runs(rule["id"])}
    assert runs[plain["id"]]["status"] == "skipped"
    assert runs[plain["id"]]["error"] == "conditions not met"
    assert runs[vip["id"]]["status"] == "done"


class NamePrefixFilter:
    """A plugin's contact filter, as geo's "within 10 km of" is."""

    @hookimpl
    def register_contact_filters(self) -> list[ContactFilter]:
        return [name_starts_filter()]


async def test_conditions_take_plugin_filters(crm_user, runner, clock, register_test_plugin):
    register_test_plugin(NamePrefixFilter(), "nameprefix")
    rule = await create_rule(
        {**FOLLOW_UP, "conditions": {"filter": "test.name_starts", "prefix": "Ro"}}, SYSTEM
    )
    rosa = await create_contact({"first_name": "Rosa", "owner_id": crm_user["id"]}, SYSTEM)
    mahsa = await create_contact({"first_name": "Mahsa", "owner_id": crm_user["id"]}, SYSTEM)
    for contact in (rosa, mahsa):
        await update_contact(contact["id"], {"stage": "customer"}, SYSTEM)
    await settle(runner, clock)
    assert len(await tasks_of(rosa["id"])) == 1 and await tasks_of(mahsa["id"]) == []
    runs = {run["contact_id"]: run["status"] for run in await list_runs(rule["id"])}
    assert runs == {rosa["id"]: "done", mahsa["id"]: "skipped"}


async def test_field_and_tag_actions_change_the_contact(runner, clock):
    await create_rule(
        {
            "name": "Tag and source new leads",
            "trigger": {"event": "contact.created"},
            "actions": [
                {"action": "add_tag", "tag": "new"},
                {"action": "set_field", "field": "source", "value": "automation"},
                {"action": "set_field", "field": "stage", "value": "prospect"},
            ],
        },
        SYSTEM,
    )
    contact = await create_contact({"first_name": "Kaveh"}, SYSTEM)
    await settle(runner, clock)
    after = await get_contact(contact["id"], SYSTEM)
    assert after["tags"] == ["new"]
    assert after["source"] == "automation" and after["stage"] == "prospect"


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CRM_SMTP_URL", f"smtp://127.0.0.1:{port}?from=crm@example.com")
    try:
        yield sink
    finally:
        controller.stop()


async def test_notify_user_sends_a_real_email_to_the_owner(crm_user, runner, clock, smtp_sink):
    await create_rule(
        {
            "name": "Tell the owner",
            "trigger": {"event": "contact.stage_changed", "match": {"to": ["customer"]}},
            "actions": [
                {
                    "action": "notify_user",
                    "subject": "{{ contact.name }} signed",
                    "body": "Stage is now {{ contact.stage }}.",
                }
            ],
        },
        SYSTEM,
    )
    contact = await create_contact({"first_name": "Darya", "owner_id": crm_user["id"]}, SYSTEM)
    await update_contact(contact["id"], {"stage": "customer"}, SYSTEM)
    await settle(runner, clock)
    [envelope] = smtp_sink.messages
    assert envelope.rcpt_tos == [crm_user["email"]]
    message = message_from_bytes(envelope.content)
    assert message["Subject"] == "Darya signed" and message["From"] == "crm@example.com"
    assert "Stage is now customer." in message.get_payload()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    try:
        yield server
    finally:
        await server.stop()


async def test_call_webhook_is_signed_and_retried(runner, clock, receiver):
    receiver.statuses = [503]
    rule = await create_rule(
        {
            "name": "Tell the ERP",
            "trigger": {"event": "contact.created"},
            "actions": [
                {"action": "call_webhook", "url": receiver.url, "secret": "erp-shared-secret-123"}
            ],
        },
        SYSTEM,
    )
    contact = await create_contact({"first_name": "Babak", "email": "babak@example.com"}, SYSTEM)
    await settle(runner, clock)
    assert len(receiver.requests) == 1
    assert (await list_runs(rule["id"]))[0]["status"] == "running"
    clock.advance(seconds=60)
    await runner.run_until_idle()
    assert len(receiver.requests) == 2
    request = receiver.requests[-1]
    assert verify_signature(
        "erp-shared-secret-123",
        request.headers["x-crm-timestamp"],
        request.headers["x-crm-signature"],
        request.body,
    )
    body = json.loads(request.body)
    assert body["contact"]["id"] == contact["id"] and body["rule"]["id"] == rule["id"]
    assert body["contact"]["email"] == "babak@example.com"
    [run] = await list_runs(rule["id"])
    assert run["status"] == "done" and [s["status"] for s in run["steps"]] == ["ok"]


async def test_no_interaction_for_30_days_fires_once_per_quiet_period(crm_user, runner):
    rule = await create_rule(
        {
            "name": "Wake up quiet contacts",
            "trigger": {"schedule": "daily", "no_interaction_days": 30},
            "actions": [{"action": "create_task", "subject": "Call {{ contact.first_name }}"}],
        },
        SYSTEM,
    )
    quiet = await create_contact({"first_name": "Quiet", "owner_id": crm_user["id"]}, SYSTEM)
    busy = await create_contact({"first_name": "Busy", "owner_id": crm_user["id"]}, SYSTEM)
    with frozen_clock() as clock:
        clock.advance(days=40)
        await log_interaction(
            {
                "channel": "phone",
                "contact_id": busy["id"],
                "occurred_at": (clock.current - timedelta(days=10)).isoformat(),
            },
            SYSTEM,
        )
        assert await evaluate_scheduled_rules() == 1
        await runner.run_until_idle()
        assert len(await tasks_of(quiet["id"])) == 1 and await tasks_of(busy["id"]) == []
        clock.advance(days=1)
        assert await evaluate_scheduled_rules() == 0, "once per quiet period, not daily"
        await log_interaction(
            {
                "channel": "email",
                "contact_id": quiet["id"],
                "occurred_at": clock.current.isoformat(),
            },
            SYSTEM,
        )
        clock.advance(days=31)
        assert await evaluate_scheduled_rules() == 2
        await runner.run_until_idle()
    assert len(await tasks_of(quiet["id"])) == 2 and len(await tasks_of(busy["id"])) == 1
    assert {run["status"] for run in await list_runs(rule["id"])} == {"done"}


async def test_disabled_rule_does_not_run(crm_user, runner, clock):
    rule = await create_rule(FOLLOW_UP, SYSTEM)
    await set_rule_enabled(rule["id"], False, SYSTEM)
    contact = await create_contact({"first_name": "Off", "owner_id": crm_user["id"]}, SYSTEM)
    await update_contact(contact["id"], {"stage": "customer"}, SYSTEM)
    await settle(runner, clock)
    assert await tasks_of(contact["id"]) == [] and await list_runs(rule["id"]) == []


async def test_event_about_a_deleted_contact_is_logged_as_skipped(runner, clock):
    from crmcore.jobs import current_backend
    from crmcore.services.contacts import delete_contact

    rule = await create_rule(
        {
            "name": "Anything about contacts",
            "trigger": {"event": "contact.*"},
            "actions": [{"action": "add_tag", "tag": "seen"}],
        },
        SYSTEM,
    )
    contact = await create_contact({"first_name": "Fleeting"}, SYSTEM)
    await delete_contact(contact["id"], SYSTEM)
    await settle(runner, clock)
    runs = await list_runs(rule["id"])
    assert [run["status"] for run in runs] == ["skipped", "skipped"]
    assert {run["error"] for run in runs} == {"the contact no longer exists"}
    assert await current_backend().list_jobs(status="dead") == []


async def test_plugin_actions_join_the_core_ones(runner, clock, register_test_plugin):
    calls: list[tuple[int, dict[str, Any], str]] = []

    async def stamp(contact_id: int, params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        calls.append((contact_id, params, ctx.rule["name"]))
        return {"stamped": params["mark"]}

    class Stamper:
        @hookimpl
        def register_automation_actions(self) -> list[Action]:
            return [Action("stamper.stamp", "Stamp", {"mark": "Mark"}, stamp)]

    register_test_plugin(Stamper(), "stamper")
    rule = await create_rule(
        {
            "name": "Stamp",
            "trigger": {"event": "contact.created"},
            "actions": [{"action": "stamper.stamp", "mark": "X"}],
        },
        SYSTEM,
    )
    contact = await create_contact({"first_name": "Plugin"}, SYSTEM)
    await settle(runner, clock)
    assert calls == [(contact["id"], {"mark": "X"}, "Stamp")]
    assert (await list_runs(rule["id"]))[0]["steps"][0]["result"] == {"stamped": "X"}


async def test_invalid_rules_are_refused_with_field_messages(crm_db):
    with pytest.raises(ValidationError) as refused:
        await create_rule(
            {
                "name": "",
                "trigger": {"event": "contact.created"},
                "conditions": {"filter": "no_such_filter"},
                "actions": [{"action": "launch_rocket"}, {"action": "add_tag"}],
            },
            SYSTEM,
        )
    errors = refused.value.errors
    assert errors["name"] == "is required"
    assert "no_such_filter" in errors["conditions"]
    assert "unknown action 'launch_rocket'" in errors["actions[0]"]
    assert errors["actions[1]"] == "add_tag needs tag"


async def test_automation_api(crm_client, crm_user):
    created = await crm_client.post("/api/v1/automation/rules", json=FOLLOW_UP)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["trigger"] == FOLLOW_UP["trigger"] and rule["enabled"] is True
    listed = (await crm_client.get("/api/v1/automation/rules")).json()
    assert [r["id"] for r in listed] == [rule["id"]]
    off = await crm_client.patch(f"/api/v1/automation/rules/{rule['id']}", json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    runs = await crm_client.get(f"/api/v1/automation/rules/{rule['id']}/runs")
    assert runs.status_code == 200 and runs.json() == []
    actions = {a["name"] for a in (await crm_client.get("/api/v1/automation/actions")).json()}
    assert {"create_task", "set_field", "add_tag", "notify_user", "call_webhook"} <= actions
    bad = await crm_client.post(
        "/api/v1/automation/rules",
        json={**FOLLOW_UP, "actions": [{"action": "create_task"}]},
    )
    assert bad.status_code == 422 and "subject" in bad.json()["errors"]["actions[0]"]
    assert (await crm_client.delete(f"/api/v1/automation/rules/{rule['id']}")).status_code == 204
    assert (await crm_client.get(f"/api/v1/automation/rules/{rule['id']}")).status_code == 404


def test_automation_cli_add_list_disable_runs(crm_cli, tmp_path):
    import re

    assert crm_cli("db", "migrate").exit_code == 0
    path = tmp_path / "rule.json"
    path.write_text(json.dumps(FOLLOW_UP))
    added = crm_cli("automation", "add", str(path))
    assert added.exit_code == 0, added.output
    first = int(re.search(r"Rule (\d+)", added.output).group(1))
    listed = crm_cli("automation", "list")
    assert "Follow up new customers" in listed.output and "contact.stage_changed" in listed.output
    from_stdin = crm_cli("automation", "add", "-", input=json.dumps({**FOLLOW_UP, "name": "Two"}))
    assert from_stdin.exit_code == 0, from_stdin.output
    second = int(re.search(r"Rule (\d+)", from_stdin.output).group(1))
    assert crm_cli("automation", "disable", str(first)).exit_code == 0
    rules = {r["id"]: r for r in json.loads(crm_cli("automation", "list", "--json").output)}
    assert (rules[first]["name"], rules[first]["enabled"]) == ("Follow up new customers", False)
    assert (rules[second]["name"], rules[second]["enabled"]) == ("Two", True)
    assert "No runs." in crm_cli("automation", "runs", "--rule", str(first)).output
    bad = crm_cli("automation", "add", '{"name": "x", "trigger": {}, "actions": []}')
    assert bad.exit_code == 2 and "trigger" in bad.output
    assert crm_cli("automation", "disable", "999999").exit_code == 1
