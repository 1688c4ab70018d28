"""crmcore plugin `projects`: customer projects: goals, milestones, tasks, risks and progress."""

__version__ = "0.1.0"
