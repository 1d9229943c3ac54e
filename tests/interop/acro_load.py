"""Run by the interop venv's python (tests/interop): ACRO 1.0.2's own loader on a folder; prints what it loaded.

Usage: python acro_load.py FOLDER. Prints one JSON document: ACRO's version and, per record, its status, type and
what `load_records` made of its files (CSV files as DataFrames with their shape, other files by name). Any error
propagates: the test shows ACRO's traceback.
"""

import json
import sys

import pandas as pd
from acro.record import load_records
from acro.version import __version__ as acro_version

records = load_records(sys.argv[1])
out = {}
for uid, rec in records.results.items():
    loaded = []
    for o in rec.output:
        if isinstance(o, pd.DataFrame):
            loaded.append({"frame": [int(o.shape[0]), int(o.shape[1])]})
        else:
            loaded.append({"file": str(o)})
    out[uid] = {"uid": rec.uid, "status": rec.status, "type": rec.output_type, "output": loaded, "sdc": rec.sdc}
print(json.dumps({"acro": acro_version, "pandas": pd.__version__, "records": out}))
