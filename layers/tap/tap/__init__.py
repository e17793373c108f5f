"""TAP on the UWS: ADQL queries over Parquet catalogues, run by DuckDB in the worker.

This package is pure translation and metadata: it imports neither boto3 nor ``uws``, so the
functions that do not query never pay for it (``tap.adql`` pulls in sqlglot, about 0.3 s).
"""
