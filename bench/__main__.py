"""Benchmarks: `make bench` (or `.venv/bin/python -m bench`). Prints figures; asserts nothing.

1. Cost split of one submission (parse, schema validation fast and reference, semantic checks, storage),
   on SQLite and PostgreSQL.
2. Reports accepted per second over HTTP: gunicorn with 2 sync workers on loopback, wrk as the load generator,
   beside a bare endpoint that only parses the same JSON, on SQLite and PostgreSQL: the three servers (bare, storage
   only, as shipped) run at once and are measured back to back in interleaved rounds, each ratio within a round.

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
from typing import Any

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


def start_gunicorn(target: str, env: dict[str, str], workers: int = 2) -> tuple[subprocess.Popen, int]:
    """Start gunicorn and return once every worker has loaded the app (see bench/gunicorn_ready.py)."""
    port = free_port()
    ready = Path(tempfile.mkdtemp(prefix="bench-ready-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "-c", str(ROOT / "bench" / "gunicorn_ready.py"), target],
        cwd=ROOT, env=dict(env, BENCH_READY_DIR=str(ready)), start_new_session=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if len(list(ready.iterdir())) >= workers:
                return proc, port
            time.sleep(0.1)
        stop(proc)
        raise RuntimeError(f"gunicorn for {target} did not start")
    finally:
        shutil.rmtree(ready, ignore_errors=True)


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


SERVERS = (("bare", "bench.bare:app", "/reports"),
           ("ingest_without_recognition", "bench.app_without_recognition:app", "/api/v1/reports"),
           ("ingest", "app:app", "/api/v1/reports"))


def http_ingest(db: ScratchDatabase, seconds: int, connections: int, folder: Path, rounds: int) -> dict[str, Any]:
    """Rates of the bare endpoint, the registry storing only, and the registry as shipped, in interleaved rounds.

    This machine's speed drifts by tens of percent within minutes, and not evenly for every kind of work: measured
    one after the other, the three rates would each catch a different moment. All three servers run at once (an
    idle one costs nothing) and each round measures them back to back; a ratio is taken within a round.
    """
    env = dict(os.environ, DATABASE_URL=db.url, SECRET_KEY="bench")
    key = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "registry", "create-key", "--org", LAB],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip()
    urls: dict[str, str] = {}
    servers = []
    try:
        for name, target, path in SERVERS:
            server, port = start_gunicorn(target, env)
            servers.append(server)
            urls[name] = f"http://127.0.0.1:{port}{path}"
        for name in urls:  # warm-up: first requests fill each worker's caches and connection pool
            wrk(urls[name], "" if name == "bare" else key, 2, connections, folder)
        per_round: list[dict[str, dict]] = []
        for _ in range(rounds):
            per_round.append({name: wrk(url, "" if name == "bare" else key, seconds, connections, folder)
                              for name, url in urls.items()})
        # Later reports of known products: 200 models, registered in the warm-up, then re-filed.
        run = uuid.uuid4().hex[:6]
        wrk(urls["ingest"], key, 2, connections, folder, REFILED_PRODUCTS, run)
        refiled = wrk(urls["ingest"], key, seconds, connections, folder, REFILED_PRODUCTS, run)
    finally:
        for server in servers:
            stop(server)
    return {"rounds": per_round, "ingest_refiled": refiled}


def print_http(http: dict[str, Any], seconds: int, connections: int) -> dict[str, float]:
    """Print each round and the median ratios; return the medians."""
    print(f"  gunicorn 2 sync workers per server, wrk 1 thread {connections} connections, {seconds} s per measurement")
    print(f"  {'round':<6} {'bare req/s':>11} {'storage only':>13} {'as shipped':>11} {'storage/bare':>13} "
          f"{'shipped/bare':>13}")
    storage_ratios, shipped_ratios = [], []
    for i, r in enumerate(http["rounds"], 1):
        bare, plain, shipped = r["bare"]["rate"], r["ingest_without_recognition"]["rate"], r["ingest"]["rate"]
        storage_ratios.append(bare / plain)
        shipped_ratios.append(bare / shipped)
        print(f"  {i:<6} {bare:>11.0f} {plain:>13.0f} {shipped:>11.0f} {'1/' + format(bare / plain, '.1f'):>13} "
              f"{'1/' + format(bare / shipped, '.1f'):>13}")
    errors = sum(m["non2xx"] for r in http["rounds"] for m in r.values())
    last = http["rounds"][-1]
    print(f"  p99 in the last round: bare {last['bare']['p99']}, storage only {last['ingest_without_recognition']['p99']}, "
          f"as shipped {last['ingest']['p99']}; non-201 answers in all rounds: {errors}")
    refiled = http["ingest_refiled"]
    print(f"  later reports, as shipped: {refiled['rate']:.0f} reports/s (p99 {refiled['p99']}, {refiled['non2xx']} "
          f"non-201; {REFILED_PRODUCTS} known products re-filed)")
    medians = {"storage_only": statistics.median(storage_ratios), "as_shipped": statistics.median(shipped_ratios)}
    print(f"  median of the rounds: storage only 1/{medians['storage_only']:.1f} of bare, "
          f"as shipped 1/{medians['as_shipped']:.1f} (decisions and search rows in the submission's transaction)")
    return medians


# ---------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the three HTTP measurements")
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
                    http = http_ingest(db, args.seconds, args.connections, folder, args.rounds)
                    print(f"== {engine}: reports accepted per second over HTTP, {args.rounds} interleaved rounds ==")
                    http["median_ratios"] = print_http(http, args.seconds, args.connections)
                    results[engine]["http"] = http
            finally:
                db.drop()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\n(figures saved to {out / 'latest.json'})")


if __name__ == "__main__":
    main()
