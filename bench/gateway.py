"""Benchmark of the gateway (issue #14): quotadesk, LiteLLM and Portkey side by side, one run.

    .venv/bin/python bench/gateway.py [--quick] [--skip-peers] [--seconds 10] [--db URL]
                                      [--peers DIR] [--json FILE]

Every figure is measured in this run against a baseline of the same run (the machine is shared
and noisy, so only ratios and differences mean something):

1. throughput, concurrency 32, mock at 0 ms, with budgets (a credit balance and a hard limit),
   rate limits (per org and model) and metering on: quotadesk gateway (1 worker) vs LiteLLM proxy
   (1 worker, its budget checked on every request through its custom auth) vs Portkey's open
   gateway (which enforces nothing), all in front of the same mock. Targets: >= 20x LiteLLM,
   ahead of Portkey.
2. added latency over the mock direct, concurrency 1: p50 <= 1 ms, p99 <= 3 ms;
3. added latency with the mock at 20 ms, concurrency 32: p50 <= 2 ms, p99 <= 10 ms;
4. streaming: time to the first SSE ``data:`` line, through vs direct (median): <= 1 ms added;
5. resident memory per worker after the load (VmRSS): <= 150 MB; ready (spawn to the first 200
   on /healthz): <= 2 s.

Load comes from wrk with the peers' ``post.lua`` (``../shared/bench/peers``; ``peers.sh setup
wrk``). LiteLLM and Portkey are started by ``peers.sh`` (set up on demand with ``peers.sh setup``);
a peer that cannot be set up or started is reported as such and its ratio is skipped, the rest
still runs. Afterwards ``books verify`` must find the books consistent. Prints PASS/FAIL per target
and exits 0 unless something crashed: a benchmark reports, it does not gate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The test helpers (tests/gateway/harness.py) are shared with the race and kill tests. This folder
# leaves the path first: this script's own name would hide the ``gateway`` test package.
sys.path[:] = [str(ROOT / "tests")] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from gateway.harness import Gateway, free_port, rss_kib, seed_org  # noqa: E402
from quotadesk.store.books import Books  # noqa: E402

PEERS_DEFAULT = ROOT.parent / "shared" / "bench" / "peers"
CONC = 32


def log(msg: str) -> None:
    print(msg, flush=True)


# ------------------------------------------------------------------ processes


class Mock:
    """The peers' mock upstream (``mock_upstream.py``) in a subprocess."""

    def __init__(self, peers: Path, latency_ms: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, str(peers / "mock_upstream.py"), "--port", str(self.port), "--latency-ms", str(latency_ms)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_get(f"{self.url}/healthz", 20)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _wait_get(url: str, seconds: float) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not up after {seconds} s")


@dataclass
class Peer:
    name: str
    url: str | None  # chat completions URL, None when it could not run
    key: str = ""
    headers: str = ""
    why: str = ""


def peers_sh(peers: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run peers.sh; its output goes through a file, not a pipe: the peer it starts in the background
    keeps the script's stdout open, and a pipe would never reach end of file."""
    with tempfile.TemporaryFile("w+") as out:
        done = subprocess.run(
            ["bash", str(peers / "peers.sh"), *args], stdout=out, stderr=subprocess.STDOUT, text=True,
            timeout=timeout, check=False,
        )
        out.seek(0)
        return subprocess.CompletedProcess(done.args, done.returncode, out.read(), "")


def start_litellm(peers: Path, upstream: str) -> Peer:
    root = Path("/tmp/qd-peers/litellm/bin/litellm")
    if not root.exists():
        done = peers_sh(peers, "setup", "litellm", timeout=600)
        if not root.exists():
            return Peer("LiteLLM", None, why=f"peers.sh setup litellm failed: {_tail(done)}")
    port = free_port()
    done = peers_sh(peers, "start", "litellm", str(port), f"{upstream}/v1", "1", timeout=200)
    if done.returncode != 0:
        return Peer("LiteLLM", None, why=f"peers.sh start litellm failed: {_tail(done)}")
    return Peer("LiteLLM", f"http://127.0.0.1:{port}/v1/chat/completions", key="sk-peer-throughput")


def start_portkey(peers: Path, upstream: str) -> Peer:
    if not Path("/tmp/qd-peers/portkey/node_modules/@portkey-ai/gateway").exists():
        done = peers_sh(peers, "setup", "portkey", timeout=600)
        if done.returncode != 0:
            return Peer("Portkey", None, why=f"peers.sh setup portkey failed: {_tail(done)}")
    port = free_port()
    done = peers_sh(peers, "start", "portkey", str(port), timeout=60)
    if done.returncode != 0:
        return Peer("Portkey", None, why=f"peers.sh start portkey failed: {_tail(done)}")
    hdrs = f"x-portkey-provider: openai;x-portkey-custom-host: {upstream}/v1;Authorization: Bearer x"
    return Peer("Portkey", f"http://127.0.0.1:{port}/v1/chat/completions", headers=hdrs)


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    text = (done.stderr or done.stdout or "").strip().splitlines()
    return text[-1] if text else f"exit {done.returncode}"


# ------------------------------------------------------------------ wrk


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50: float  # ms
    p90: float
    p99: float
    non2xx: int
    sock_err: int


def wrk(peers: Path, url: str, conc: int, seconds: float, key: str = "", headers: str = "") -> WrkResult:
    """Two seconds of warm-up, then ``seconds`` of load; the RESULT line of post.lua, parsed."""
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (peers.sh setup wrk)")
    env = {**os.environ, "KEY": key, "HDRS": headers}
    script = str(peers / "post.lua")
    base = ["wrk", "-t1", f"-c{conc}", "--timeout", "10s", "-s", script]
    subprocess.run([*base, "-d2s", url], env=env, capture_output=True, check=False, timeout=60)
    done = subprocess.run(
        [*base, f"-d{max(1, round(seconds))}s", url], env=env, capture_output=True, text=True, check=False,
        timeout=seconds + 60,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no RESULT: {done.stdout[-300:]} {done.stderr[-300:]}")
    f = dict(part.split("=", 1) for part in line.split()[1:])
    return WrkResult(
        int(f["requests"]), float(f["rps"]), float(f["p50_ms"]), float(f["p90_ms"]), float(f["p99_ms"]),
        int(f["non2xx"]), int(f["sock_err"]),
    )


# ------------------------------------------------------------------ streaming first token


async def _read_response(reader: asyncio.StreamReader, t0: float) -> tuple[int, float | None]:
    """Read one HTTP/1.1 response; returns (status, seconds from t0 to the first ``data:`` line)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    hdrs = {}
    for ln in lines[1:]:
        if b":" in ln:
            k, v = ln.split(b":", 1)
            hdrs[k.strip().lower()] = v.strip().lower()
    first: float | None = None
    seen = b""

    def feed(data: bytes) -> None:
        nonlocal first, seen
        if first is None:
            seen += data
            if b"data:" in seen:
                first = time.perf_counter() - t0

    if b"content-length" in hdrs:
        n = int(hdrs[b"content-length"])
        while n:
            data = await reader.read(n)
            if not data:
                raise ConnectionError("closed mid-body")
            feed(data)
            n -= len(data)
    elif hdrs.get(b"transfer-encoding") == b"chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            feed(await reader.readexactly(size))
            await reader.readexactly(2)
    else:
        while data := await reader.read(65536):
            feed(data)
    return status, first


async def _ttft(url: str, key: str, n: int) -> list[float]:
    """``n`` sequential streaming requests on one keep-alive connection: seconds to the first token."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    body = json.dumps(
        {"model": "gpt-4o-mini", "max_tokens": 20, "stream": True,
         "messages": [{"role": "user", "content": "Say hello."}]}
    ).encode()
    auth = f"Authorization: Bearer {key}\r\n".encode() if key else b""
    req = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n".encode()
        + auth + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    )
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    out: list[float] = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            writer.write(req)
            status, first = await _read_response(reader, t0)
            if status != 200 or first is None:
                raise RuntimeError(f"streaming request to {url} answered {status} without a data line")
            out.append(first)
    finally:
        writer.close()
    return out


def ttft(url: str, key: str, n: int) -> list[float]:
    return asyncio.run(_ttft(url, key, n))


# ------------------------------------------------------------------ report


class Report:
    def __init__(self) -> None:
        self.targets: list[tuple[str, bool | None]] = []
        self.figures: dict[str, object] = {}

    def target(self, name: str, value: str, ok: bool | None) -> None:
        verdict = "PASS" if ok else ("FAIL" if ok is not None else "SKIP")
        log(f"  target {name}: {value}  {verdict}")
        self.targets.append((name, ok))


def pct(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


@contextmanager
def books_url(db: str | None) -> Iterator[str]:
    if db:
        yield db
        return
    with tempfile.TemporaryDirectory(prefix="qd-gwbench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'books.db'}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short durations (3 s loads, fewer stream samples)")
    ap.add_argument("--skip-peers", action="store_true", help="do not start LiteLLM and Portkey")
    ap.add_argument("--seconds", type=float, default=None, help="seconds of each load (default 10; quick 3)")
    ap.add_argument("--db", default=None, help="books URL (default: a fresh SQLite file)")
    ap.add_argument("--peers", type=Path, default=Path(os.environ.get("QUOTADESK_PEERS", PEERS_DEFAULT)))
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    secs = args.seconds or (3.0 if args.quick else 10.0)
    samples = 200 if args.quick else 1000
    peers: Path = args.peers
    if not (peers / "post.lua").exists():
        log(f"no peers folder at {peers} (give --peers)")
        return 2
    if not shutil.which("wrk"):
        peers_sh(peers, "setup", "wrk", timeout=300)
    rep = Report()
    started: list[str] = []
    mock0 = Mock(peers, 0)
    mock20 = Mock(peers, 20)
    log(f"gateway bench: {secs:g} s per load, concurrency {CONC}, mock at {mock0.url} (0 ms), {mock20.url} (20 ms)")
    try:
        with books_url(args.db) as url:
            books = Books.open(url)
            _org, secret = seed_org(books, credit="1000000", hard="900000", name="bench")
            books.close()
            gw = Gateway(url, {"openai": mock0.url}, workers=1)
            gw.start()
            gw20 = Gateway(url, {"openai": mock20.url}, workers=1)
            gw20.start()
            try:
                run(rep, peers, secs, samples, mock0, mock20, gw, gw20, secret, args.skip_peers, started)
            finally:
                gw.stop()
                gw20.stop()
                for name in started:
                    peers_sh(peers, "stop", name, timeout=60)
            books = Books.open(url)
            report = books.verify()
            books.close()
            log(f"books verify after the run: {'ok' if report.ok else report.to_json()['findings']}")
            rep.figures["verify_ok"] = report.ok
    finally:
        mock0.stop()
        mock20.stop()
    passed = sum(1 for _, ok in rep.targets if ok)
    failed = sum(1 for _, ok in rep.targets if ok is False)
    skipped = sum(1 for _, ok in rep.targets if ok is None)
    log(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    if args.json:
        args.json.write_text(json.dumps({"figures": rep.figures, "targets": rep.targets}, indent=2))
    return 0


def run(
    rep: Report,
    peers: Path,
    secs: float,
    samples: int,
    mock0: Mock,
    mock20: Mock,
    gw: Gateway,
    gw20: Gateway,
    secret: str,
    skip_peers: bool,
    started: list[str],
) -> None:
    chat = "/v1/chat/completions"
    fig = rep.figures
    log(f"\n0. ready: spawn to the first 200 on /healthz: {gw.ready_s:.2f} s (second gateway {gw20.ready_s:.2f} s)")
    ready = max(gw.ready_s or 0.0, gw20.ready_s or 0.0)
    fig["ready_s"] = ready
    rep.target("ready <= 2 s", f"{ready:.2f} s", ready <= 2.0)

    log(f"\n1. throughput, concurrency {CONC}, mock at 0 ms (budgets, rate limits and metering on)")
    direct = wrk(peers, mock0.url + chat, CONC, secs)
    log(f"  mock direct      {direct.rps:10.1f} req/s  p50 {direct.p50:.2f} ms  p99 {direct.p99:.2f} ms")
    ours = wrk(peers, gw.url + chat, CONC, secs, key=secret)
    log(f"  quotadesk (1 w)  {ours.rps:10.1f} req/s  p50 {ours.p50:.2f} ms  p99 {ours.p99:.2f} ms"
        f"  non-2xx {ours.non2xx}  socket errors {ours.sock_err}  ({ours.rps / direct.rps:.1%} of the mock)")
    fig["throughput"] = {"mock": direct.rps, "quotadesk": ours.rps, "quotadesk_non2xx": ours.non2xx}
    rss = {pid: rss_kib(pid) for pid in gw.worker_pids()}
    peer_rows: list[Peer] = []
    if skip_peers:
        log("  peers skipped (--skip-peers): no LiteLLM or Portkey ratio in this run")
    else:
        for starter, name in ((start_litellm, "litellm"), (start_portkey, "portkey")):
            peer = starter(peers, mock0.url)
            if peer.url is not None:
                started.append(name)
            peer_rows.append(peer)
    for peer in peer_rows:
        if peer.url is None:
            log(f"  {peer.name:<16} NOT MEASURED: {peer.why}")
            fig[f"{peer.name}_why"] = peer.why
            continue
        r = wrk(peers, peer.url, CONC, secs, key=peer.key, headers=peer.headers)
        log(f"  {peer.name + ' (1 w)':<16} {r.rps:10.1f} req/s  p50 {r.p50:.2f} ms  p99 {r.p99:.2f} ms"
            f"  non-2xx {r.non2xx}  socket errors {r.sock_err}")
        fig["throughput"][peer.name] = r.rps  # type: ignore[index]
        if peer.name == "LiteLLM":
            ratio = ours.rps / r.rps if r.rps else float("inf")
            rep.target("throughput >= 20x LiteLLM", f"{ratio:.1f}x ({ours.rps:.0f} vs {r.rps:.0f} req/s)",
                       ratio >= 20 and r.non2xx == 0)
        else:
            ratio = ours.rps / r.rps if r.rps else float("inf")
            rep.target("throughput ahead of Portkey", f"{ratio:.2f}x ({ours.rps:.0f} vs {r.rps:.0f} req/s)",
                       ratio > 1 and r.non2xx == 0)
        peers_sh(peers, "stop", peer.name.lower(), timeout=60)
        started.remove(peer.name.lower())
    for name in ("LiteLLM", "Portkey"):
        if not any(p.name == name and p.url for p in peer_rows):
            rep.target(f"throughput vs {name}", "not measured in this run", None)
    rep.target("every answer of ours 2xx under load", f"{ours.non2xx} non-2xx, {ours.sock_err} socket errors",
               ours.non2xx == 0 and ours.sock_err == 0)

    log("\n2. added latency, concurrency 1, mock at 0 ms")
    d1 = wrk(peers, mock0.url + chat, 1, secs)
    o1 = wrk(peers, gw.url + chat, 1, secs, key=secret)
    log(f"  mock direct  p50 {d1.p50:.3f} ms  p99 {d1.p99:.3f} ms ({d1.rps:.0f} req/s)")
    log(f"  quotadesk    p50 {o1.p50:.3f} ms  p99 {o1.p99:.3f} ms ({o1.rps:.0f} req/s)")
    a50, a99 = o1.p50 - d1.p50, o1.p99 - d1.p99
    fig["added_c1_ms"] = {"p50": a50, "p99": a99}
    rep.target("added p50 <= 1 ms at concurrency 1", f"+{a50:.3f} ms", a50 <= 1.0)
    rep.target("added p99 <= 3 ms at concurrency 1", f"+{a99:.3f} ms", a99 <= 3.0)

    log(f"\n3. added latency, concurrency {CONC}, mock at 20 ms")
    d20 = wrk(peers, mock20.url + chat, CONC, secs)
    o20 = wrk(peers, gw20.url + chat, CONC, secs, key=secret)
    log(f"  mock direct  p50 {d20.p50:.2f} ms  p99 {d20.p99:.2f} ms ({d20.rps:.0f} req/s)")
    log(f"  quotadesk    p50 {o20.p50:.2f} ms  p99 {o20.p99:.2f} ms ({o20.rps:.0f} req/s, non-2xx {o20.non2xx})")
    b50, b99 = o20.p50 - d20.p50, o20.p99 - d20.p99
    fig["added_c32_20ms_ms"] = {"p50": b50, "p99": b99}
    rep.target("added p50 <= 2 ms at concurrency 32, mock 20 ms", f"+{b50:.2f} ms", b50 <= 2.0)
    rep.target("added p99 <= 10 ms at concurrency 32, mock 20 ms", f"+{b99:.2f} ms", b99 <= 10.0)

    log(f"\n4. streaming: time to the first SSE data line, {samples} sequential requests each")
    ttft(mock0.url + chat, "", 20)
    ttft(gw.url + chat, secret, 20)
    sd, so = [], []
    for _ in range(4):  # interleaved, so drift in the machine's load hits both sides alike
        sd += ttft(mock0.url + chat, "", samples // 4)
        so += ttft(gw.url + chat, secret, samples // 4)
    md, mo = statistics.median(sd) * 1000, statistics.median(so) * 1000
    log(f"  mock direct  median {md:.3f} ms  p99 {pct(sd, 0.99) * 1000:.3f} ms")
    log(f"  quotadesk    median {mo:.3f} ms  p99 {pct(so, 0.99) * 1000:.3f} ms")
    fig["stream_first_token_added_ms"] = mo - md
    rep.target("streaming adds <= 1 ms to the first token (median)", f"+{mo - md:.3f} ms", mo - md <= 1.0)

    log("\n5. resident memory per worker after the load (VmRSS)")
    rss.update({pid: rss_kib(pid) for pid in gw.worker_pids()})
    for pid, kib in rss.items():
        log(f"  worker pid {pid}: {'gone' if kib is None else f'{kib / 1024:.1f} MiB'}")
    worst = max((k for k in rss.values() if k is not None), default=0) / 1024
    fig["rss_mib"] = worst
    rep.target("memory <= 150 MB per worker", f"{worst:.1f} MiB ({worst * 1.048576:.1f} MB)", worst * 1.048576 <= 150)


if __name__ == "__main__":
    sys.exit(main())
