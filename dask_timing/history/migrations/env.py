"""Alembic's environment: migrate the connection ``connection.open_database`` hands over."""

from alembic import context

context.configure(connection=context.config.attributes["connection"], render_as_batch=True)
with context.begin_transaction():  # inside the caller's transaction: nothing of its own
    context.run_migrations()
