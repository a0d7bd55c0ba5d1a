"""Imported once by the forkserver from which every step of a run forks (definitions.py's executor):
the definitions are built there, once per run, and frozen out of the garbage collector, so each step
starts without importing or building anything. This is where the steps start, not at import of the
code location."""

from studentops_assets import definitions

try:
    definitions.build_for_steps()
except Exception:  # noqa: BLE001 - reported where it can be read
    # A forkserver that fails here dies with nothing in the run's logs; each step then loads the
    # definitions itself and the run's event log shows the error.
    pass
