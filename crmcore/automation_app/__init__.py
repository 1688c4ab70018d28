"""The Piccolo app of the built-in `automation` plugin: job queue, webhooks, rules, inbound."""
