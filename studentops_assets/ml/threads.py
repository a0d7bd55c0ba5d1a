"""Thread limits for the native code under scikit-learn (OpenMP in gradient boosting, BLAS).

Two steps of a run share the machine's cores (the executor's max_concurrent), and OpenMP threads that
spin-wait on busy cores are catastrophic: a HistGradientBoostingClassifier fit of 6,000 rows took
101 s with the default threads and 14 s with one, measured on this 2-core machine under load.
STUDENTOPS_ML_THREADS (default 1) sets the limit.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def ml_threads():
    with threadpool_limits(limits=int(os.environ.get("STUDENTOPS_ML_THREADS", "1"))):
        yield
