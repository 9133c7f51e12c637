"""Load on loopback for the HTTP service (``drg serve``): latency, throughput, a 1,000,000-record upload.

    python benchmarks/load_service.py                       # PostgreSQL at $DRG_TEST_DATABASE_URL, 2 workers
    python benchmarks/load_service.py --database duckdb --workers 1 --seconds 5 --records 200000

Measures, each against a freshly started server on 127.0.0.1:
1. ``POST /v1/group`` latency, one request at a time (p50/p99 ms, client-side, keep-alive);
2. ``POST /v1/group`` throughput with ``--connections`` concurrent keep-alive connections
   (requests/s) — the load generator runs on the same machine and takes CPU from the server;
3. a Parquet file of ``--records`` generated records uploaded to ``/v1/batches/upload`` and grouped
   and stored as a background job (seconds from the upload's first byte to the job's ``done``).
The load generator is a small asyncio HTTP/1.1 client (bounded: a fixed duration or request count).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("DRG_TEST_DATABASE_URL", "postgresql://drg_test:drg_test@127.0.0.1:5432/drg_test")
RECORD = {"case_id": "LOAD-1", "sex": 1, "age_years": 67, "principal_dx": "J18.900", "secondary_dx": "J96.000",
          "procedures": "", "los_days": 9, "discharge_method": 1, "discharge_date": "2024-03-11",
          "insurance_type": "310", "dept": "呼吸内科", "total_cost": 15234.5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drg(*args, env) -> str:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=REPO, check=True,
                          capture_output=True, text=True).stdout.strip()


def start_server(database: str, workers: int, tmp: Path) -> tuple[subprocess.Popen, int, str, dict]:
    env = dict(os.environ)
    env.update({"DRG_SERVICE_DATABASE_URL": database, "DRG_SERVICE_JOB_DIR": str(tmp / "jobs"),
                "DRG_SERVICE_RATE_LIMIT_PER_S": "0", "DRG_SERVICE_BACKGROUND_THRESHOLD": "0",
                "DRG_SERVICE_DATABASE_SCHEMA": f"load_{os.getpid()}"})
    key = drg("serve", "--create-key", "hospital", "--hospital", "H001", env=env)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(workers)],
                              env=env, cwd=REPO, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        server.kill()
        raise SystemExit("the server did not start")
    return server, port, key, env


def _request(port: int, key: str, path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-API-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def _read_response(reader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def _client(port: int, request: bytes, deadline: float, count: int | None, latencies: list, errors: list):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    while time.perf_counter() < deadline and (count is None or done < count):
        started = time.perf_counter()
        writer.write(request)
        status = await _read_response(reader)
        latencies.append(time.perf_counter() - started)
        if status != 200:
            errors.append(status)
        done += 1
    writer.close()


def load(port: int, key: str, connections: int, seconds: float, count: int | None = None,
         path: str = "/v1/group") -> dict:
    request = _request(port, key, path, json.dumps(RECORD).encode())
    latencies, errors = [], []

    async def main():
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*[_client(port, request, deadline, count, latencies, errors) for _ in range(connections)])

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"requests": len(ms), "errors": len(errors), "rps": len(ms) / elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def parquet_file(n: int, path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from grouper import Grouper
    from icd_tables.sample import sample_records

    base = pa.Table.from_pandas(sample_records(Grouper().pack.compiled, min(n, 100_000), seed=5), preserve_index=False)
    reps = -(-n // base.num_rows)
    table = pa.concat_tables([base] * reps).slice(0, n)
    table = table.set_column(table.column_names.index("case_id"), "case_id",
                             pa.array([f"B{i:08d}" for i in range(n)]))
    table = table.set_column(table.column_names.index("hospital_id"), "hospital_id", pa.repeat(pa.scalar("H001"), n))
    pq.write_table(table, path)
    return path


def upload(port: int, key: str, path: Path) -> dict:
    import httpx

    started = time.perf_counter()
    with open(path, "rb") as f:
        r = httpx.post(f"http://127.0.0.1:{port}/v1/batches/upload?background=true", headers={"X-API-Key": key},
                       files={"file": (path.name, f)}, timeout=600)
    job = r.json()
    for _ in range(6000):
        status = httpx.get(f"http://127.0.0.1:{port}/v1/jobs/{job['job_id']}", headers={"X-API-Key": key}).json()
        if status["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    return {"state": status["state"], "records": status["done"], "seconds": time.perf_counter() - started,
            "message": status["message"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgresql", help="postgresql (DRG_TEST_DATABASE_URL) or duckdb")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        url = PG_URL if args.database == "postgresql" else f"duckdb:///{tmp / 'load.duckdb'}"
        server, port, key, env = start_server(url, args.workers, tmp)
        try:
            load(port, key, 4, 2.0)                                   # warm-up: JIT caches, pools
            for path in ("/v1/group?payment=false", "/v1/group"):
                single = load(port, key, 1, args.seconds / 2, path=path)
                many = load(port, key, args.connections, args.seconds, path=path)
                print(f"POST {path}, 1 connection: p50 {single['p50_ms']:.2f} ms, p99 {single['p99_ms']:.2f} ms "
                      f"({single['requests']:,} requests, {single['errors']} errors)")
                print(f"POST {path}, {args.connections} connections, {args.workers} worker(s) on {args.database}: "
                      f"{many['rps']:,.0f} requests/s, p50 {many['p50_ms']:.2f} ms, p99 {many['p99_ms']:.2f} ms "
                      f"({many['errors']} errors)")
            if args.records:
                path = parquet_file(args.records, tmp / "batch.parquet")
                result = upload(port, key, path)
                print(f"upload {args.records:,} records (Parquet) grouped and stored: {result['seconds']:.1f} s "
                      f"({result['state']}: {result['message']})")
        finally:
            server.terminate()
            server.wait(30)
            if args.database == "postgresql":
                import psycopg

                with psycopg.connect(PG_URL, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA IF EXISTS load_{os.getpid()} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
