"""Test support for crmcore and its plugins: a pytest plugin with ready fixtures.

Installed with crmcore (``pytest11`` entry point), so a plugin's own test suite gets
``crm_settings``, ``crm_pm``, ``crm_db``, ``crm_app``, ``crm_client``, ``crm_user`` and
``register_test_plugin`` without any conftest. See docs/testing_plugins.md.
"""
