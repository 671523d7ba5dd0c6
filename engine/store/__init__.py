"""The database: connection and sessions, the engine's tables, column types and states, migrations."""
