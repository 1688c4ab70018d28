"""Built-in plugin `automation`: jobs, webhooks, automation rules, privacy, backups.

Everything here is registered through the same hooks a third-party plugin uses. The module
stays light at import time; the feature modules load inside the hooks.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

from crmcore import __version__
from crmcore.hookspecs import hookimpl
from crmcore.plugins import Manifest

log = logging.getLogger("crmcore.automation")

manifest = Manifest(
    name="automation",
    version=__version__,
    description="Background jobs, webhooks, automation rules, privacy requests and backups",
    depends=("core",),
)

JOB_RETENTION = timedelta(days=7)


@hookimpl
def register_piccolo_apps() -> list[str]:
    return ["crmcore.automation_app.piccolo_app"]


async def _purge_jobs(payload: dict[str, Any], ctx: Any) -> int:
    from crmcore.jobs import registry_for
    from crmcore.jobs.embedded import purge_finished
    from crmcore.services.context import current_pm

    if current_pm().settings is not None and current_pm().settings.queue_url:
        return 0  # SAQ expires its own finished jobs
    days = float(payload.get("days", JOB_RETENTION.days))
    return await purge_finished(timedelta(days=days), registry_for(current_pm()))


@hookimpl
def register_jobs() -> list[Any]:
    from crmcore.jobs import Job
    from crmcore.services.automation_runs import evaluate_scheduled_rules, run_rule
    from crmcore.services.events import dispatch_job
    from crmcore.services.webhooks import deliver_webhook

    return [
        Job("automation.dispatch_events", dispatch_job, retries=2, backoff_s=5, schedule="5s"),
        Job("automation.deliver_webhook", deliver_webhook, retries=6, backoff_s=30),
        Job("automation.run_rule", run_rule, retries=5, backoff_s=60),
        Job("automation.evaluate_schedules", evaluate_scheduled_rules, retries=3, schedule="daily"),
        Job("automation.purge_jobs", _purge_jobs, retries=1, schedule="hourly"),
    ]


@hookimpl
def register_automation_actions() -> list[Any]:
    from crmcore.services.automation_actions import CORE_ACTIONS

    return list(CORE_ACTIONS)


@hookimpl
def event_types() -> list[str]:
    from crmcore.services.events import AUTOMATION_EVENT_TYPES

    return list(AUTOMATION_EVENT_TYPES)


@hookimpl
def register_api_routes() -> list[Any]:
    from crmcore.api.automation import AutomationController
    from crmcore.api.inbound import receive_inbound_post
    from crmcore.api.jobs import JobController
    from crmcore.api.privacy import PrivacyController
    from crmcore.api.webhooks import WebhookController

    return [
        WebhookController,
        AutomationController,
        JobController,
        PrivacyController,
        receive_inbound_post,
    ]


@hookimpl
def register_commands(cli: Any) -> None:
    from crmcore.cli.automation import automation
    from crmcore.cli.backup import backup, restore
    from crmcore.cli.jobs import jobs
    from crmcore.cli.privacy import privacy
    from crmcore.cli.webhooks import webhooks
    from crmcore.cli.worker import worker

    for command in (jobs, worker, webhooks, automation, privacy, backup, restore):
        cli.add_command(command)


def embedded_runner_wanted(app: Any) -> bool:
    """Run the embedded runner in this web process? ``CRM_EMBEDDED_JOBS=1`` forces it,
    ``0`` turns it off; otherwise it runs when the app opened the database itself (``crm
    serve``) and no SAQ queue is configured. Test apps share the test's database: no runner."""
    flag = os.environ.get("CRM_EMBEDDED_JOBS")
    if flag == "0":
        return False
    if app.state.settings.queue_url:
        return False
    return flag == "1" or bool(app.state.get("owns_db"))


@hookimpl
async def startup(app: Any) -> None:
    queue_url = app.state.settings.queue_url
    if queue_url:
        from crmcore.jobs import use_backend
        from crmcore.jobs.saq_backend import SaqBackend

        # One SAQ connection for the app's enqueues, closed by the shutdown hook.
        use_backend(queue_url, SaqBackend(queue_url, persistent=True))
    if not embedded_runner_wanted(app):
        return
    from crmcore.jobs import registry_for
    from crmcore.jobs.embedded import EmbeddedRunner

    runner = EmbeddedRunner(registry_for(app.state.pm))
    await runner.start()
    app.state.job_runner = runner
    log.info("embedded job runner started in the web process")


@hookimpl
async def shutdown(app: Any) -> None:
    from crmcore.jobs import close_backends

    runner = app.state.get("job_runner")
    if runner is not None:
        await runner.stop()
        app.state.job_runner = None
    await close_backends()
