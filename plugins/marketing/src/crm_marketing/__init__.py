"""crmcore plugin `marketing`: segments, templated email, drip campaigns, tracking, scoring and consent."""

__version__ = "0.1.0"
