"""A test-only plugin that owns a table and a page (see tests/test_hooks.py).

Not installed: tests put ``tests/plugins`` on ``sys.path`` and register the ``plugin``
module with ``register_test_plugin``.
"""
