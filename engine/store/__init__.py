"""The database: connection and sessions, the engine's tables, column types and states, migrations, and
the hash-chained audit log and state hash that every write transaction records."""
