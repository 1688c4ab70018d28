"""crmcore plugin `geo`: offline geocoding, spatial search, geofences and maps."""

__version__ = "0.1.0"
