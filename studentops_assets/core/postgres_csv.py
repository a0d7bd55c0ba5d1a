"""dlt's Postgres destination with a csv COPY that keeps empty strings apart from NULLs.

dlt's csv load job runs `COPY ... WITH (FORMAT CSV, NULL '', FORCE_NULL(<every nullable column>))`.
FORCE_NULL makes a quoted empty field NULL as well, so an empty string at the source ('' in a note's
text) arrives as NULL: a raw replica that is no longer an exact copy, and a NULL in a column the
source declares NOT NULL. The csv files StudentOps loads are written by pyarrow (load_files.py, or
dlt's own arrow csv writer in normalize), which writes NULL as an empty unquoted field and '' as
`""`: plain CSV-format COPY already reads both correctly, so this job is dlt's without FORCE_NULL.
Everything else (header-mapped columns, one transaction per file, the unknown-column check) is as
dlt does it.
"""

from __future__ import annotations

from typing import Any

from dlt.common.destination.configuration import CsvFormatConfiguration
from dlt.common.destination.exceptions import DestinationInvalidFileFormat
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
        known = {
            sql_client.escape_column_name(column["name"], quote=True)
            for column in client.schema.get_table_columns(table_name).values()
        }
        with FileStorage.open_zipsafe_ro(self._file_path, "rb") as f:
            header = f.readline().decode(csv_format.encoding).strip()
            columns = [sql_client.escape_column_name(name.strip('"'), quote=True) for name in header.split(sep)]
            if unknown := set(columns) - known:
                raise DestinationInvalidFileFormat(
                    "postgres", "csv", self._file_path, f"headers {sorted(unknown)} are not columns of {table_name}"
                )
            copy_sql = (
                f"COPY {sql_client.make_qualified_table_name(table_name)} ({','.join(columns)}) "
                f"FROM STDIN WITH (FORMAT CSV, DELIMITER '{sep}', NULL '', ENCODING '{csv_format.encoding}')"
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

    def __init__(self, *args: Any, destination_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, destination_name=destination_name or "postgres", **kwargs)

    @property
    def client_class(self) -> type[PostgresClient]:
        return ExactCsvPostgresClient
