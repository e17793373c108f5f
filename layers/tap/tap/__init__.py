"""TAP 1.1 on the UWS: ADQL over Parquet, run by DuckDB."""
