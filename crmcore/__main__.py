"""``python -m crmcore`` is the ``crm`` command."""

from crmcore.cli.main import main

main()
