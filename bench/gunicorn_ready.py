"""Gunicorn settings for the HTTP benchmark: each worker says when it has loaded the app.

The master accepts connections as soon as it binds, while its workers may still be importing the app (seconds for
the registry, a fraction of one for the bare endpoint). Without this, the first seconds of a measurement counted
workers booting as the registry being slow.
"""

import os
from pathlib import Path


def post_worker_init(worker):
    folder = os.environ.get("BENCH_READY_DIR")
    if folder:
        (Path(folder) / str(worker.pid)).touch()
