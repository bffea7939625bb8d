"""The SQLite history, the source of truth: connection, migrations, backups, conversations, export and import."""
