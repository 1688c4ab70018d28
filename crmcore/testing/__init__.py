"""Test support for crmcore and its plugins: a pytest plugin with ready fixtures.

Installed with crmcore (``pytest11`` entry point), so a plugin's own test suite gets
``crm_settings``, ``crm_pm`` (marker ``crm_plugins``), ``crm_db``, ``crm_app``,
``crm_user``, ``crm_client``, ``crm_anon_client``, ``crm_cli``, ``crm_run``,
``crm_fresh_settings`` and ``register_test_plugin`` without any conftest. Each test gets a
throwaway instance on a real database: SQLite by default, PostgreSQL when
``CRM_TEST_DATABASE_URL`` is set. See docs/testing_plugins.md.
"""
