"""Domain logic shared by the API, the pages, the CLI and jobs: one door per write.

Every write function validates, runs in one transaction (``write_transaction``), records
its audit entry and outbox event in that transaction, and fires the plugin event hooks
after commit.
"""
