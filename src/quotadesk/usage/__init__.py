"""The usage log and its analytics (Ibis expressions, DuckDB by default)."""
