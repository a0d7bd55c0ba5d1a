from studentops_assets.references.assets import raw_bibtex_entries, raw_ris_entries
from .helpers import materialize

def test_empty(new_home):
    home, wh = new_home(students=[{"id": "x", "slug": "x"}])
    materialize([raw_bibtex_entries, raw_ris_entries], wh)
    print(home.query("select table_name from information_schema.tables where table_schema='raw'"))
    print(home.query("select count(*) from raw._dlt_loads"))
    materialize([raw_bibtex_entries, raw_ris_entries], wh)
    print(home.query("select count(*) from raw._dlt_loads"))
