"""crmcore plugin `marketing`: segments, templated email, drip campaigns, tracking, scoring,
consent."""

__version__ = "0.1.0"
