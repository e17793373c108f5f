"""TAP 1.1 on the UWS: ADQL queries over Parquet catalogues, run by DuckDB.

The translation (``tap.adql``) and the formats (``metadata``, ``votable``, ``upload``,
``formats``) import neither boto3 nor ``uws``; the service around them (the ``tap`` job type,
/sync and the VOSI resources) builds on the UWS core and never the other way round. Only the
functions that query carry this layer.
"""
