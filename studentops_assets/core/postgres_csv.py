"""dlt's Postgres destination with a csv COPY that keeps empty strings apart from NULLs in text.

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

from typing import Any

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


class ExactCsvPostgresClient(PostgresClient):
    def create_load_job(self, table: Any, file_path: str, load_id: str, restore: bool = False) -> Any:
        job = super().create_load_job(table, file_path, load_id, restore)
        if type(job) is PostgresCsvCopyJob:
            job = ExactCsvCopyJob(file_path)
        return job


class postgres_exact_csv(postgres):  # noqa: N801 - dlt's destination factories are lower-case
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
