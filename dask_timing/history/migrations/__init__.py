"""Alembic migrations of the results database, run by ``connection.open_database``."""
