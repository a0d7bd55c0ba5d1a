"""Data quality of the gold tables: Great Expectations 1.x suites run in Postgres as blocking asset checks."""
