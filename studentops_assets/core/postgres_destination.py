"""dlt's Postgres destination as StudentOps uses it: schema changes one at a time, and (for
pipelines that load arrow-written csv) a COPY that keeps empty strings apart from NULLs in text.

Every raw pipeline shares the `raw` and `raw_staging` schemas and dlt's bookkeeping tables in them
(`_dlt_version`, `_dlt_loads`, `_dlt_pipeline_state`). dlt creates those with `CREATE SCHEMA/TABLE IF
NOT EXISTS`, which Postgres does not make safe against a concurrent twin: two loaders running at
once on a new warehouse failed with `duplicate key value violates unique constraint
"pg_type_typname_nsp_index"`. The client below holds a Postgres advisory lock (on a connection of
its own) while dlt prepares storage and migrates schemas, so those steps run one at a time; the
loads themselves stay parallel.

dlt's csv load job runs `COPY ... WITH (FORMAT CSV, NULL '', FORCE_NULL(<every nullable column>))`.
FORCE_NULL makes a quoted empty field NULL as well, so an empty string at the source ('' in a note's
text) arrives as NULL: a raw replica that is no longer an exact copy, and a NULL in a column the
source declares NOT NULL. Files written from arrow (load_files.py, or dlt's own arrow csv writer in
normalize) write NULL as an empty unquoted field and '' as `""`, which plain CSV-format COPY already
reads correctly, so this job leaves text columns out of FORCE_NULL.

FORCE_NULL stays where it is needed: on nullable columns that are not text ('' is not a valid
number, timestamp or json, so there it can only mean NULL), and on dlt's own `_dlt_*` tables, whose
rows dlt writes from Python objects with a csv writer that renders None as `""`. Data tables of a
pipeline using this destination must therefore come from arrow, as the platform's do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
from dlt.common.destination.configuration import CsvFormatConfiguration
from dlt.common.destination.exceptions import DestinationInvalidFileFormat
from dlt.common.schema.utils import is_nullable_column
from dlt.common.storages.file_storage import FileStorage
from dlt.destinations import postgres
from dlt.destinations.impl.postgres.postgres import PostgresClient, PostgresCsvCopyJob


class ExactCsvCopyJob(PostgresCsvCopyJob):
    def run(self) -> None:
        client = self._job_client
        sql_client = client.sql_client
        csv_format = client.config.csv_format or CsvFormatConfiguration()
        if not csv_format.include_header:
            # Columns would have to be guessed from the schema's order; StudentOps always writes one.
            raise DestinationInvalidFileFormat("postgres", "csv", self._file_path, "csv load files need a header line")
        table_name = self.load_table_name
        sep = csv_format.delimiter
        table_columns = client.schema.get_table_columns(table_name)
        known = {sql_client.escape_column_name(column["name"], quote=True): column for column in table_columns.values()}
        # dlt names its own tables `_dlt_*` (pipeline state, loads, versions).
        written_from_objects = table_name.startswith("_dlt")
        with FileStorage.open_zipsafe_ro(self._file_path, "rb") as f:
            header = f.readline().decode(csv_format.encoding).strip()
            columns = [sql_client.escape_column_name(name.strip('"'), quote=True) for name in header.split(sep)]
            if unknown := set(columns) - known.keys():
                raise DestinationInvalidFileFormat(
                    "postgres", "csv", self._file_path, f"headers {sorted(unknown)} are not columns of {table_name}"
                )
            force_null = [
                name
                for name in columns
                if is_nullable_column(known[name]) and (written_from_objects or known[name].get("data_type") != "text")
            ]
            force_null_option = f"FORCE_NULL({','.join(force_null)}), " if force_null else ""
            copy_sql = (
                f"COPY {sql_client.make_qualified_table_name(table_name)} ({','.join(columns)}) "
                f"FROM STDIN WITH (FORMAT CSV, DELIMITER '{sep}', NULL '', {force_null_option}"
                f"ENCODING '{csv_format.encoding}')"
            )
            with sql_client.begin_transaction():
                with sql_client.native_connection.cursor() as cursor:
                    cursor.copy_expert(copy_sql, f, size=1 << 20)


# pg_advisory_lock key for dlt's schema changes in the warehouse (any constant, unique to this use).
SCHEMA_CHANGE_LOCK = 0x5354_4F50_444C_5431 & 0x7FFF_FFFF_FFFF_FFFF


class SerializedSchemaPostgresClient(PostgresClient):
    """dlt's Postgres client whose storage preparation and schema migration hold a lock."""

    @contextmanager
    def _schema_change_lock(self) -> Iterator[None]:
        # On a connection of its own: dlt resets its connection after a failed query (it probes
        # for `_dlt_version` before creating it), and psycopg2's reset runs DISCARD ALL, which
        # drops the session's advisory locks.
        lock_conn = psycopg2.connect(self.config.credentials.to_native_representation(), connect_timeout=10)
        try:
            lock_conn.autocommit = True
            with lock_conn.cursor() as cur:
                cur.execute("select pg_advisory_lock(%s)", (SCHEMA_CHANGE_LOCK,))
            yield
        finally:
            lock_conn.close()  # ending the session releases the lock

    def initialize_storage(self, truncate_tables: Any = None) -> None:
        with self._schema_change_lock():
            super().initialize_storage(truncate_tables)

    def update_stored_schema(self, *args: Any, **kwargs: Any) -> Any:
        # Under the lock dlt looks at the tables again, so it creates nothing a concurrent run just did.
        with self._schema_change_lock():
            return super().update_stored_schema(*args, **kwargs)


class postgres_serialized_schema(postgres):  # noqa: N801 - dlt's destination factories are lower-case
    """`dlt.destinations.postgres` with schema changes one at a time (module docstring).

    Named "postgres" so configuration sections, metadata and the dlt state read as before."""

    def __init__(self, *args: Any, destination_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, destination_name=destination_name or "postgres", **kwargs)

    @property
    def client_class(self) -> type[PostgresClient]:
        return SerializedSchemaPostgresClient


class ExactCsvPostgresClient(SerializedSchemaPostgresClient):
    def create_load_job(self, table: Any, file_path: str, load_id: str, restore: bool = False) -> Any:
        job = super().create_load_job(table, file_path, load_id, restore)
        if type(job) is PostgresCsvCopyJob:
            job = ExactCsvCopyJob(file_path)
        return job


class postgres_exact_csv(postgres_serialized_schema):  # noqa: N801
    """`dlt.destinations.postgres` whose csv loads keep '' and NULL apart (see the module docstring).

    Named "postgres" so configuration sections, metadata and the dlt state read as before."""

    def __init__(
        self, *args: Any, destination_name: str | None = None, csv_format: CsvFormatConfiguration | None = None, **kwargs: Any
    ) -> None:
        # The csv dialect is pinned to dlt's defaults (comma, header, quoted where needed, UTF-8):
        # it is what the arrow load files are written in (load_files.py), whatever else is configured.
        super().__init__(
            *args, destination_name=destination_name or "postgres", csv_format=csv_format or CsvFormatConfiguration(), **kwargs
        )

    @property
    def client_class(self) -> type[PostgresClient]:
        return ExactCsvPostgresClient
