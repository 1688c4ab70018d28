"""The ``crm`` command line: each group in its own module, imported only when used."""
