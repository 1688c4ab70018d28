"""crmcore plugin `hr`: employees, departments, reviews, benefits and leave."""

__version__ = "0.1.0"
