"""The travel agency's own data: tables, seed data, KPIs and search, beside the engine (docs/architecture.md)."""
