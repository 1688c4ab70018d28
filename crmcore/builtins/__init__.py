"""The core's own features, each registered as an essential plugin (see crmcore.plugins)."""
