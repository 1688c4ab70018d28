"""Root of the ``crm`` command. Core groups load lazily; plugins add theirs via a hook."""

from __future__ import annotations

import importlib
from typing import Any

import click

from crmcore import __version__
from crmcore.cli.context import CLIContext

# name -> "module:attribute"; the module is imported only when the command runs.
CORE_COMMANDS: dict[str, str] = {
    "init": "crmcore.cli.instance:init",
    "serve": "crmcore.cli.instance:serve",
    "db": "crmcore.cli.db:db",
    "plugins": "crmcore.cli.plugins:plugins",
}


class PluginCommands(click.Group):
    """Collects what plugins register. A group added under a name another plugin's group
    already holds is merged into it, so ``crm contacts`` keeps the core's subcommands and
    gains ``import``/``export`` from the data plugin."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        existing = self.commands.get(name) if name else None
        if isinstance(existing, click.Group) and isinstance(cmd, click.Group):
            for sub_name, sub in cmd.commands.items():
                existing.add_command(sub, sub_name)
            return
        super().add_command(cmd, name)


class CRMGroup(click.Group):
    """Lazily imports core commands and asks plugins for theirs only when needed."""

    def _plugin_group(self, ctx: click.Context) -> click.Group:
        cached = ctx.meta.get("crm.plugin_commands")
        if cached is None:
            cached = PluginCommands()
            obj = ctx.ensure_object(CLIContext)
            try:
                pm = obj.pm
            except click.ClickException:
                pm = None
            if pm is not None:
                pm.call_in_order("register_commands", cli=cached)
            ctx.meta["crm.plugin_commands"] = cached
        return cached

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(CORE_COMMANDS) | set(self.commands)
        names |= set(self._plugin_group(ctx).commands)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in CORE_COMMANDS:
            module, attr = CORE_COMMANDS[cmd_name].split(":")
            command: Any = getattr(importlib.import_module(module), attr)
            group = self._plugin_group(ctx) if isinstance(command, click.Group) else None
            if group is not None and cmd_name in group.commands:
                extra = group.commands[cmd_name]
                if isinstance(extra, click.Group):
                    for sub in extra.commands.values():
                        command.add_command(sub)
            return command
        return self._plugin_group(ctx).commands.get(cmd_name)


@click.command(cls=CRMGroup)
@click.version_option(__version__, prog_name="crm")
@click.option(
    "--skip-broken-plugins",
    is_flag=True,
    help="Start even if an optional plugin fails to load (it is reported and skipped).",
)
@click.pass_context
def cli(ctx: click.Context, skip_broken_plugins: bool) -> None:
    """crm: a self-hosted CRM. Configure with CRM_HOME and CRM_DATABASE_URL."""
    obj = ctx.ensure_object(CLIContext)
    obj.skip_broken = skip_broken_plugins


def main() -> None:
    cli(obj=CLIContext())
