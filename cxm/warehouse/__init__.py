"""The warehouse: the company tables (`schema.TABLES`) in one DuckDB file, and how data gets in.

`schema` declares the tables, `store` rebuilds and opens the file, `importer` loads a
company's files, `demo` builds the synthetic company, `summary` counts what is loaded.
"""
