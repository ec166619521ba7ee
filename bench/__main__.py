"""Benchmarks: `make bench` (or `.venv/bin/python -m bench`). Prints figures; asserts nothing.

1. Cost split of one submission (parse, schema validation fast and reference, semantic checks, storage),
   on SQLite and PostgreSQL.
2. Reports accepted per second over HTTP: gunicorn with 2 sync workers on loopback, wrk as the load generator,
   beside a bare endpoint that only parses the same JSON, measured in the same run, on SQLite and PostgreSQL.

PostgreSQL parts run when a server answers on 127.0.0.1:5432 (a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

PG_BASE = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
LAB = "lab-cn-sh-evtc"
REFILED_PRODUCTS = 200


def report_template() -> dict:
    return json.loads((ROOT / "schemas" / "examples" / "valid" / "cn-gbt-report.json").read_text())


def median_us(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


# ---------------------------------------------------------------------------------------------------- databases


def pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


class ScratchDatabase:
    """A fresh database (SQLite file or PostgreSQL scratch db), migrated and with the catalogue loaded."""

    def __init__(self, kind: str, folder: Path):
        self.kind = kind
        if kind == "sqlite":
            self.url = f"sqlite:///{folder / 'bench.sqlite3'}"
        else:
            self.name = f"registry_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            admin.dispose()
            self.url = make_url(PG_BASE).set(database=self.name).render_as_string(hide_password=False)
        env = dict(os.environ, DATABASE_URL=self.url, SECRET_KEY="bench")
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "registry", "init"], cwd=ROOT, env=env,
                       check=True, capture_output=True)

    def drop(self) -> None:
        if self.kind == "postgresql":
            admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()


# ---------------------------------------------------------------------------------------------------- cost split


def cost_split(db: ScratchDatabase, repeat: int) -> dict[str, float]:
    from registry import contracts, create_app
    from registry.db import get_session
    from registry.services import catalogue, reports
    from registry.services.accreditation import lab_standing
    from registry.services.permissions import Principal

    template = report_template()
    raw = orjson.dumps(template)
    figures = {
        "size_bytes": len(raw),
        "results": len(template["results"]),
        "parse_orjson_us": median_us(lambda: orjson.loads(raw), repeat * 10),
        "parse_json_us": median_us(lambda: json.loads(raw), repeat * 10),
        "validate_fast_us": median_us(lambda: contracts.validate(template), repeat * 10),
        "validate_reference_us": median_us(lambda: contracts.validate_reference(template, "test-report/v1"), repeat),
    }
    app = create_app({"DATABASE_URL": db.url, "SECRET_KEY": "bench"})
    today = date.today()
    with app.app_context():
        session = get_session()
        snap = catalogue.snapshot(session)
        standing = lab_standing(session, LAB)
        figures["semantic_checks_us"] = median_us(
            lambda: reports.check_semantics(template, snap, standing, today), repeat * 5
        )
        principal = Principal(org_id=LAB, kind="lab")
        counter = iter(range(10**9))

        def submit_once():
            # A new product each time, as in the HTTP run: one product re-filed 200 times would grow its evidence.
            n = next(counter)
            document = dict(template, report_number=f"COST-{uuid.uuid4().hex[:6]}-{n}",
                            product=dict(template["product"], model=f"COST-{n}"))
            reports.submit_report(session, principal, document, today=today)

        figures["submit_total_us"] = median_us(submit_once, repeat)
        listeners, preparers = list(reports.evidence_listeners), list(reports.evidence_preparers)
        reports.evidence_listeners.clear()
        reports.evidence_preparers.clear()
        try:
            figures["submit_without_recognition_us"] = median_us(submit_once, repeat)
        finally:
            reports.evidence_listeners.extend(listeners)
            reports.evidence_preparers.extend(preparers)
    figures["storage_us"] = max(
        0.0, figures["submit_without_recognition_us"] - figures["validate_fast_us"] - figures["semantic_checks_us"]
    )
    figures["recognition_update_us"] = figures["submit_total_us"] - figures["submit_without_recognition_us"]
    return figures


# ---------------------------------------------------------------------------------------------------- HTTP


WRK_SCRIPT = """
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
function init(args)
  prefix = args[1]
  middle = args[2]
  suffix = args[3]
  token = args[4]
  products = tonumber(args[5] or "0")
end
request = function()
  counter = counter + 1
  local n = tid .. "-" .. counter
  local model = n
  if products > 0 then model = tostring(counter % products) end
  local body = prefix .. n .. middle .. model .. suffix
  local headers = {["Content-Type"] = "application/json"}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", nil, headers, body)
end
response = function(status, headers, body)
  if status ~= 201 then
    errors_seen = (errors_seen or 0) + 1
    if errors_seen < 3 then io.stderr:write("status " .. status .. ": " .. string.sub(body, 1, 300) .. "\\n") end
  end
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(target: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning", target],
        cwd=ROOT, env=env, start_new_session=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gunicorn for {target} did not start")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def wrk(url: str, token: str, seconds: int, connections: int, folder: Path, products: int = 0,
        run: str | None = None) -> dict[str, float]:
    """Run wrk (one thread: on 2 cores it must not starve the server) and parse requests/s and non-2xx.

    Each request files a new report. `products` = 0: each for a new product (a model of its own), a product's first
    report; otherwise the reports cycle over that many models, so after the first round each one adds evidence to a
    product that has some (the general path: the product's evidence is read back and all of it decided again).
    """
    template = report_template()
    template["report_number"] = "@@NUMBER@@"
    template["product"]["model"] = "@@MODEL@@"
    body = orjson.dumps(template).decode()
    prefix, rest = body.split("@@NUMBER@@")
    middle, suffix = rest.split("@@MODEL@@")
    prefix += f"BENCH-{uuid.uuid4().hex[:6]}-"
    middle += f"M-{run or uuid.uuid4().hex[:6]}-"
    script = folder / "post.lua"
    script.write_text(WRK_SCRIPT)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url, "--",
         prefix, middle, suffix, token, str(products)],
        capture_output=True, text=True, check=True,
    )
    rate = float(next(line.split()[1] for line in out.stdout.splitlines() if line.startswith("Requests/sec")))
    non2xx = sum(int(line.split()[-1]) for line in out.stdout.splitlines() if "Non-2xx" in line)
    p99 = next((line.split()[1] for line in out.stdout.splitlines() if line.strip().startswith("99%")), "?")
    total = int(next(line.split()[0] for line in out.stdout.splitlines() if "requests in" in line))
    return {"rate": rate, "non2xx": non2xx, "p99": p99, "requests": total}


def http_ingest(db: ScratchDatabase, seconds: int, connections: int, folder: Path) -> dict[str, dict]:
    env = dict(os.environ, DATABASE_URL=db.url, SECRET_KEY="bench")
    key = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "registry", "create-key", "--org", LAB],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip()
    figures = {}
    bare, port = start_gunicorn("bench.bare:app", env)
    try:
        wrk(f"http://127.0.0.1:{port}/reports", "", 2, connections, folder)  # warm-up
        figures["bare"] = wrk(f"http://127.0.0.1:{port}/reports", "", seconds, connections, folder)
    finally:
        stop(bare)
    for name, target in (("ingest_without_recognition", "bench.app_without_recognition:app"), ("ingest", "app:app")):
        server, port = start_gunicorn(target, env)
        try:
            wrk(f"http://127.0.0.1:{port}/api/v1/reports", key, 2, connections, folder)  # warm-up
            figures[name] = wrk(f"http://127.0.0.1:{port}/api/v1/reports", key, seconds, connections, folder)
            if name == "ingest":
                # Later reports of known products: 200 models, registered in the warm-up, then re-filed.
                run = uuid.uuid4().hex[:6]
                wrk(f"http://127.0.0.1:{port}/api/v1/reports", key, 2, connections, folder, REFILED_PRODUCTS, run)
                figures["ingest_refiled"] = wrk(f"http://127.0.0.1:{port}/api/v1/reports", key, seconds, connections,
                                                folder, REFILED_PRODUCTS, run)
        finally:
            stop(server)
    return figures


# ---------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per measurement")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=200, help="repetitions for the cost split")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    engines = [e for e in args.engines.split(",") if e == "sqlite" or pg_available()]
    if shutil.which("wrk") is None:
        print("wrk not found: install it (apt-get install -y wrk) for the HTTP figures", file=sys.stderr)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for engine in engines:
            db = ScratchDatabase(engine, folder)
            try:
                split = cost_split(db, args.repeat)
                print(f"\n== {engine}: cost of one submission ({split['size_bytes']} bytes, {split['results']} results), median ==")
                labels = {"submit_without_recognition_us": "submit, storage only",
                          "recognition_update_us": "decisions + search rows",
                          "submit_total_us": "submit, as shipped"}
                for name in ("parse_orjson_us", "parse_json_us", "validate_fast_us", "validate_reference_us",
                             "semantic_checks_us", "storage_us", "submit_without_recognition_us",
                             "recognition_update_us", "submit_total_us"):
                    print(f"  {labels.get(name, name):<24} {split[name]:>10.1f} µs")
                results[engine] = {"split": split}
                if shutil.which("wrk"):
                    http = http_ingest(db, args.seconds, args.connections, folder)
                    ratio = http["ingest"]["rate"] / http["bare"]["rate"]
                    print(f"== {engine}: HTTP, gunicorn 2 workers, wrk 1 thread {args.connections} connections, {args.seconds}s ==")
                    print(f"  bare parse endpoint   {http['bare']['rate']:>8.0f} req/s  (p99 {http['bare']['p99']})")
                    plain = http["ingest_without_recognition"]
                    print(f"  POST, storage only    {plain['rate']:>8.0f} reports/s  (p99 {plain['p99']}, "
                          f"{plain['non2xx']} non-201; 1/{http['bare']['rate'] / plain['rate']:.1f} of bare)")
                    print(f"  POST, as shipped      {http['ingest']['rate']:>8.0f} reports/s  (p99 {http['ingest']['p99']}, "
                          f"{http['ingest']['non2xx']} non-201 of {http['ingest']['requests']})")
                    refiled = http["ingest_refiled"]
                    print(f"  POST, later reports   {refiled['rate']:>8.0f} reports/s  (p99 {refiled['p99']}, "
                          f"{refiled['non2xx']} non-201; {REFILED_PRODUCTS} known products re-filed, as shipped)")
                    print(f"  as shipped / bare     {ratio:>8.3f}  (1/{1 / ratio:.1f}; decisions and search rows "
                          f"written in the submission's transaction)")
                    results[engine]["http"] = http
            finally:
                db.drop()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\n(figures saved to {out / 'latest.json'})")


if __name__ == "__main__":
    main()
