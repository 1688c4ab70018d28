"""Migrations of the Piccolo app `crm_birthdays`, applied by `crm db migrate`."""
