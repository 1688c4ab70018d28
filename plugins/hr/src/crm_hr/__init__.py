"""crmcore plugin `hr`: employees, departments, reviews, benefits and leave, with restricted access."""

__version__ = "0.1.0"
