"""Alembic's entry point for the demo's database, run in-process by `storage.migrate`.

The connection comes from the caller (`config.attributes["connection"]`): the server runs the
migrations at start-up on the engine it will use, so there is no URL to configure here.
"""

from alembic import context

from demo.backend.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
