"""A separate worker process for the job-queue tests (run as ``python job_worker.py MODE URL ...``).

- ``block URL JOB_ID``: claim the job with ``run_inline`` and run a handler that reports progress, prints
  ``running <pid>`` and then blocks reading stdin (the test SIGKILLs the process there).
- ``claim URL THREADS``: wait for ``go`` on stdin, then claim jobs from THREADS threads until none is left;
  print the claimed ids as a JSON list. Claimed jobs are left running: only the claiming is under test.
"""

from __future__ import annotations

import json
import sys
import threading

from driftmgr_tui.core.db import engine_for_url
from driftmgr_tui.core.jobs import JobContext, JobQueue, process_owner


def _block(url: str, job_id: int) -> None:
    queue = JobQueue(engine_for_url(url))

    def handler(ctx: JobContext) -> dict[str, object]:
        ctx.progress(10, "waiting for the test to kill us")
        print(f"running {process_owner()}", flush=True)
        sys.stdin.readline()  # blocks until the test kills this process
        return {"unexpected": True}

    queue.run_inline(job_id, handler)


def _claim(url: str, threads: int) -> None:
    queue = JobQueue(engine_for_url(url))
    owner = process_owner()
    claimed: list[int] = []
    lock = threading.Lock()
    print("ready", flush=True)
    sys.stdin.readline()

    def loop() -> None:
        while (view := queue.claim(owner, ["race"])) is not None:
            with lock:
                claimed.append(view.id)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps(claimed), flush=True)


if __name__ == "__main__":
    mode, db_url, arg = sys.argv[1:4]
    if mode == "block":
        _block(db_url, int(arg))
    elif mode == "claim":
        _claim(db_url, int(arg))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
