"""Everything that knows the SQL store: schema, engines, filters, metrics, queries, ingestion, the CLI."""
