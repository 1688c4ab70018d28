"""crmcore plugin `birthdays`: remind contact owners of their contacts' birthdays."""

__version__ = "0.1.0"
