"""Instructions per submission, counted by valgrind's callgrind: `python -m bench.instructions` (needs valgrind).

The HTTP figures of `python -m bench` move with this machine's speed, which drifts by tens of percent within minutes;
an instruction count does not. The app (storage only, as in `bench/app_without_recognition.py`, and the bare
endpoint) is called in process through WSGI, and only the calls are counted: start-up and the warm-up run with
instrumentation off, and only the main thread is counted (not SQLite's WAL-copying thread). On PostgreSQL the count
is the client's: the server's work is not in it. Judge a change by these counts and the HTTP figures together:
instructions are not time (cache misses, system calls and waiting are not in them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _worker(kind: str, target: str, count: int, marker: Path) -> None:
    """Run under callgrind: warm up, then signal, wait for instrumentation, submit `count` reports, signal again."""
    import orjson
    from werkzeug.test import EnvironBuilder

    from bench.__main__ import LAB, report_template

    key = os.environ["BENCH_KEY"]
    if target == "bare":
        from bench.bare import app
        path = "/reports"
    else:
        from bench.app_without_recognition import app
        path = "/api/v1/reports"
    template = report_template()
    tag = uuid.uuid4().hex[:6]

    def environ(n: int, run: str) -> dict:
        document = dict(template, report_number=f"IR-{tag}-{run}-{n}", lab=LAB,
                        product=dict(template["product"], model=f"IR-{tag}-{run}-{n}"))
        return EnvironBuilder(path=path, method="POST", data=orjson.dumps(document), content_type="application/json",
                              headers={"Authorization": f"Bearer {key}"}).get_environ()

    def submit(environs: list[dict]) -> None:
        for env in environs:
            out = app(env, lambda status, headers, exc_info=None: None)
            b"".join(out)
            out.close()

    submit([environ(n, "warm") for n in range(100)])
    measured = [environ(n, "count") for n in range(count)]  # built before counting starts
    marker.write_text(str(os.getpid()))
    time.sleep(3)  # the driver switches instrumentation on
    submit(measured)
    (marker.parent / "done").write_text("1")
    time.sleep(3)  # ... and off


def _count(db_url: str, key: str, kind: str, target: str, count: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix="bench-ir-"))
    marker = folder / "started"
    out = folder / "callgrind.out"
    env = dict(os.environ, DATABASE_URL=db_url, SECRET_KEY="bench", BENCH_KEY=key)
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--instr-atstart=no",
         f"--callgrind-out-file={out}", sys.executable, "-m", "bench.instructions", "--worker", kind, target,
         str(count), str(marker)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while not marker.exists():
            if proc.poll() is not None:
                raise RuntimeError("the counted process ended before it started counting")
            time.sleep(0.2)
        pid = marker.read_text()
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        while not (folder / "done").exists():
            time.sleep(0.2)
        subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
        proc.wait(timeout=120)
        main_thread = folder / "callgrind.out-01"
        totals = re.search(r"^totals:\s+(\d+)", main_thread.read_text(), re.MULTILINE)
        return int(totals.group(1)) / count
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="submissions counted per measurement")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind not found (apt-get install -y valgrind)", file=sys.stderr)
        sys.exit(1)
    from bench.__main__ import LAB, ScratchDatabase, pg_available

    engines = [e for e in args.engines.split(",") if e == "sqlite" or pg_available()]
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in engines:
            db = ScratchDatabase(kind, Path(tmp))
            try:
                env = dict(os.environ, DATABASE_URL=db.url, SECRET_KEY="bench")
                key = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "registry", "create-key",
                                      "--org", LAB], cwd=ROOT, env=env, check=True, capture_output=True,
                                     text=True).stdout.strip()
                bare = _count(db.url, key, kind, "bare", args.count)
                stored = _count(db.url, key, kind, "storage", args.count)
                figures[kind] = {"bare": bare, "storage_only": stored, "counted": args.count}
                print(f"{kind}: instructions per request, in process (WSGI), main thread, {args.count} counted: "
                      f"bare {bare / 1e6:.2f} M, storage only {stored / 1e6:.2f} M ({stored / bare:.1f} x)")
            finally:
                db.drop()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "instructions.json").write_text(json.dumps(figures, indent=2))
    print(f"(figures saved to {out / 'instructions.json'})")


if __name__ == "__main__":
    main()
