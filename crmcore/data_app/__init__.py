"""The ``crm_data`` Piccolo app: import records, their row map and rejected rows.

Owned by the built-in ``data`` plugin (crmcore.builtins.data), which registers it through
``register_piccolo_apps`` so it migrates after the core app.
"""
