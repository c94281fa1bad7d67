"""The load benchmark: ``python -m data_access loadtest --sessions 20 --db URL``. A measurement to read, not a test.

It starts the dashboard (``streamlit run app.py``, or uses one already running with ``--app``), then drives
sessions through every page the way a browser does, but without drawing anything: each session is one websocket
speaking Streamlit's own protocol (``BackMsg`` / ``ForwardMsg``), asks for a page and waits until the server says
the script run finished. What is timed is therefore the server's part of a page view: the script run, its
queries and figures, their serialisation and the wait for the server's attention, never a browser's layout.

Two phases in the same run, on the same server, after one walk that fills the caches:
1. one session alone walks every page ``--rounds`` times;
2. ``--sessions`` sessions walk every page at once, each from its own starting page, pausing ``--think`` seconds
   (on average, drawn at random) between page views, as people reading a page do.
Per page: the median and p95 of both phases, and the errors (an exception or an error message on the page). For
the server: its CPU time over each phase (as a share of one core) and its peak memory.

Streamlit's protobuf messages are imported from ``streamlit.proto``; the rest of ``data_access`` never imports
Streamlit (its caching adapter aside), and this module does only to speak to the app as a client.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from data_access import pages

ROOT = Path(__file__).resolve().parents[2]  # the project: data_access/ops/ is two folders down
# every page a person reads (the pages that only edit are left out: Alerts, Maps and targets, Access)
PAGES: tuple[str, ...] = pages.DATA_PAGES  # the pages that read the journey data
HOME = "overview"  # the menu's default page for a viewer who may open everything
PAGE_TIMEOUT_SECONDS = 120.0  # a page view that has not finished by then counts as an error


@dataclass
class Visit:
    """One page view: which session, which page, in which phase, how long until the run finished, what failed."""

    phase: str
    session: int
    page: str
    seconds: float
    errors: list[str] = field(default_factory=list)


@dataclass
class Usage:
    """The server process's CPU seconds (user + system) and peak resident memory, read from /proc."""

    cpu_seconds: float
    peak_mb: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(url: str, port: int, *, env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen:
    """``streamlit run app.py`` on ``port`` reading the store at ``url``; returns once the server answers."""
    environment = {**os.environ, **(env or {}), "CJM_DATABASE_URL": url}
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=environment,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_healthy(f"http://127.0.0.1:{port}", process=process)
    return process


def wait_healthy(base: str, *, process: subprocess.Popen | None = None, seconds: float = 60.0) -> None:
    """Waits until ``base``/_stcore/health answers ok (and fails early when ``process`` ended)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode} before it answered")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base} did not answer within {seconds:.0f} s")


def stop_app(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def restart_peak(pid: int | str = "self") -> bool:
    """Starts a process's peak resident memory (``VmHWM``) over from its current size (Linux 4.0+, writing 5 to
    ``/proc/<pid>/clear_refs``), so that one phase of a long run reports its own peak; False where it cannot."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def usage(pid: int) -> Usage:
    """CPU seconds of ``pid`` so far and its peak resident memory (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    return Usage(cpu, peak_kb / 1024)


class Session:
    """One browser session, without a browser: a websocket to ``/_stcore/stream`` that asks for pages."""

    def __init__(self, base: str, number: int, query: str = "") -> None:
        self.base = base
        self.ws_url = base.replace("http://", "ws://").replace("https://", "wss://") + "/_stcore/stream"
        self.number = number
        self.query = query
        self._ws = None

    async def __aenter__(self) -> Session:
        import websockets

        # as a browser does: the page first, then the websocket with the cookies it set (a proxy's sticky-session
        # cookie among them, which keeps this session on one replica)
        cookies = await asyncio.to_thread(_cookies, self.base)
        headers = {"Cookie": "; ".join(cookies)} if cookies else None
        self._ws = await websockets.connect(
            self.ws_url,
            subprotocols=["streamlit"],
            max_size=None,
            open_timeout=30,
            ping_interval=None,
            additional_headers=headers,
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def view(self, page: str, timeout: float = PAGE_TIMEOUT_SECONDS) -> tuple[float, list[str], list[str]]:
        """Asks for ``page`` and waits until its script run finished. Returns (seconds, errors, texts): the error
        and exception messages shown, and every text element (for a test to compare figures)."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        ask = BackMsg()
        state = ask.rerun_script
        state.query_string = self.query
        state.page_name = "" if page == HOME else page  # the home page's address is the bare one
        state.context_info.timezone = "UTC"
        state.context_info.locale = "en-US"
        started = time.perf_counter()
        await self._ws.send(ask.SerializeToString())
        errors: list[str] = []
        texts: list[str] = []
        deadline = started + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return time.perf_counter() - started, [*errors, f"not drawn after {timeout:.0f} s"], texts
            try:
                raw = await asyncio.wait_for(self._ws.recv(), remaining)
            except TimeoutError:
                continue
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                _read_element(msg.delta.new_element, errors, texts)
            elif kind == "page_not_found":
                errors.append(f"page not found: {page}")
            elif kind == "script_finished":
                status = msg.script_finished
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:  # the page reran itself: wait for that run
                    errors.clear()
                    texts.clear()
                    continue
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    errors.append("the script did not compile")
                if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
                    return time.perf_counter() - started, errors, texts


def _own_cpu() -> float:
    """This process's CPU seconds so far (user + system)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _cookies(base: str) -> list[str]:
    """The ``name=value`` of every cookie that the app's address sets."""
    with urllib.request.urlopen(f"{base}/", timeout=30) as answer:
        return [c.split(";", 1)[0] for c in answer.headers.get_all("Set-Cookie") or []]


def _read_element(element: object, errors: list[str], texts: list[str]) -> None:
    from streamlit.proto.Alert_pb2 import Alert

    kind = element.WhichOneof("type")
    if kind == "exception":
        errors.append(f"{element.exception.type}: {element.exception.message}")
    elif kind == "alert":
        if element.alert.format == Alert.ERROR:
            errors.append(element.alert.body)
        texts.append(element.alert.body)
    elif kind == "metric":
        texts.append(f"{element.metric.label}={element.metric.body}")
    elif kind == "markdown":
        texts.append(element.markdown.body)
    elif kind == "heading":
        texts.append(element.heading.body)


async def _walk(
    base: str, number: int, pages: Sequence[str], phase: str, think: float, rng: random.Random, query: str
) -> list[Visit]:
    visits = []
    async with Session(base, number, query) as session:
        for page in pages:
            seconds, errors, _texts = await session.view(page)
            visits.append(Visit(phase, number, page, seconds, errors))
            if think > 0:
                await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))
    return visits


def _rotated(pages: Sequence[str], start: int) -> list[str]:
    start %= len(pages)
    return [*pages[start:], *pages[:start]]


@dataclass
class Result:
    sessions: int
    servers: int
    think: float
    warm: list[Visit]
    alone: list[Visit]
    together: list[Visit]
    cpu_alone: float  # server CPU seconds per wall second (1.0 = one core busy)
    cpu_together: float
    peak_mb: float
    seconds_together: float
    client_cpu: float  # this client's own CPU with N sessions, cores (it shares the machine with the servers)

    def errors(self) -> list[Visit]:
        return [v for v in (*self.warm, *self.alone, *self.together) if v.errors]


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered) + 0.5) - 1))]


def run(
    bases: Sequence[str],
    *,
    sessions: int,
    rounds: int = 2,
    think: float = 3.0,
    pages: Sequence[str] = PAGES,
    seed: int = 7,
    server_pids: Sequence[int] = (),
    query: str = "",
    progress: Callable[[str], None] = print,
) -> Result:
    """Drives the app through both phases. ``bases``: one address, or one per replica (session n goes to replica
    n mod N, as a sticky proxy would keep it there; the session alone uses the first). ``server_pids``: the
    Streamlit processes, for their CPU and memory."""

    def read() -> Usage | None:
        found = [usage(pid) for pid in server_pids]
        return Usage(sum(u.cpu_seconds for u in found), sum(u.peak_mb for u in found)) if found else None

    progress(f"warm-up and one session alone, {rounds} rounds of {len(pages)} pages")
    loop = asyncio.new_event_loop()
    try:
        # every replica's cache is filled first, so that both phases are warm
        warm = [
            v
            for base in bases
            for v in loop.run_until_complete(_walk(base, 0, pages, "warm-up", 0.0, random.Random(seed), query))
        ]
        after_warm, warm_end = read(), time.monotonic()
        alone = loop.run_until_complete(
            _walk(bases[0], 0, [p for _ in range(rounds) for p in pages], "alone", 0.0, random.Random(seed), query)
        )
        after_alone, alone_end = read(), time.monotonic()
        progress(
            f"{sessions} sessions at once on {len(bases)} server(s), {rounds} rounds each, "
            f"thinking {think:g} s on average between pages"
        )

        async def together() -> list[Visit]:
            async def one(number: int) -> list[Visit]:
                own = random.Random(seed + number)
                await asyncio.sleep(own.uniform(0, think))  # people do not all click at the same instant
                base = bases[number % len(bases)]
                return await _walk(base, number, _rotated(pages, number) * rounds, "together", think, own, query)

            done = await asyncio.gather(*(one(n) for n in range(1, sessions + 1)))
            return [v for visits in done for v in visits]

        client_before = _own_cpu()
        crowd = loop.run_until_complete(together())
        end, crowd_end = read(), time.monotonic()
        client_cpu = (_own_cpu() - client_before) / (crowd_end - alone_end)
    finally:
        loop.close()

    def share(a: Usage | None, b: Usage | None, seconds: float) -> float:
        return (b.cpu_seconds - a.cpu_seconds) / seconds if a and b and seconds > 0 else float("nan")

    return Result(
        sessions=sessions,
        servers=len(bases),
        think=think,
        warm=warm,
        alone=alone,
        together=crowd,
        cpu_alone=share(after_warm, after_alone, alone_end - warm_end),
        cpu_together=share(after_alone, end, crowd_end - alone_end),
        peak_mb=end.peak_mb if end else float("nan"),
        seconds_together=crowd_end - alone_end,
        client_cpu=client_cpu,
    )


def table(result: Result, pages: Sequence[str] = PAGES) -> str:
    """The per-page table, Markdown: single-session median, N-session median and p95, their ratio, errors."""
    n = result.sessions
    lines = [
        f"| page | alone median s | {n} at once median s | {n} at once p95 s | p95 / alone median | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for page in pages:
        alone = [v.seconds for v in result.alone if v.page == page]
        crowd = [v.seconds for v in result.together if v.page == page]
        errors = sum(1 for v in (*result.alone, *result.together) if v.page == page and v.errors)
        if not alone or not crowd:
            continue
        m, cm, cp = statistics.median(alone), statistics.median(crowd), p95(crowd)
        lines.append(f"| {page} | {m:.2f} | {cm:.2f} | {cp:.2f} | {cp / m:.1f} | {errors} |")
    alone_all = [v.seconds for v in result.alone]
    crowd_all = [v.seconds for v in result.together]
    m, cm, cp = statistics.median(alone_all), statistics.median(crowd_all), p95(crowd_all)
    lines.append(f"| **every page** | {m:.2f} | {cm:.2f} | {cp:.2f} | {cp / m:.1f} | {len(result.errors())} |")
    return "\n".join(lines)


def summary(result: Result) -> str:
    views = len(result.together)
    return (
        f"{result.sessions} sessions on {result.servers} server process(es), {views} page views in "
        f"{result.seconds_together:.0f} s "
        f"({views / result.seconds_together:.1f} pages/s), thinking {result.think:g} s on average between pages; "
        f"servers' CPU {result.cpu_alone:.2f} cores alone, {result.cpu_together:.2f} cores with {result.sessions} "
        f"sessions; peak memory {result.peak_mb:.0f} MB; the load client itself {result.client_cpu:.2f} cores"
    )


def main(
    url: str,
    *,
    sessions: int,
    replicas: int = 1,
    rounds: int = 2,
    think: float = 3.0,
    app: str | None = None,
    progress: Callable[[str], None] = print,
) -> int:
    """The ``loadtest`` command: starts ``replicas`` app processes on the store at ``url`` (or drives the app
    already running at ``app``), runs both phases and prints the table on stdout (``progress`` gets the steps).
    Exit code 1 when a page view failed."""
    from data_access import store

    if sessions < 1 or replicas < 1 or rounds < 1 or think < 0:
        raise ValueError("--sessions, --replicas and --rounds must be at least 1, --think 0 or more")
    processes: list[subprocess.Popen] = []
    logs = Path(tempfile.mkdtemp(prefix="cjm-loadtest-"))
    try:
        if app:
            bases = [app.rstrip("/")]
        else:
            missing = store.missing_tables(store.create_store_engine(url, read_only=True))
            if missing:
                raise store.StoreError(
                    f"The store {store.safe_url(url)} has no {', '.join(missing)} table(s): fill it first, e.g. "
                    f"python -m data_access seed --customers 100000 --db {store.safe_url(url)}"
                )
            bases = []
            for number in range(replicas):
                port = free_port()
                progress(f"starting app process {number + 1} of {replicas} on port {port} (log: {logs})")
                processes.append(start_app(url, port, log=logs / f"app-{port}.log"))
                bases.append(f"http://127.0.0.1:{port}")
        result = run(
            bases,
            sessions=sessions,
            rounds=rounds,
            think=think,
            server_pids=[p.pid for p in processes],
            progress=progress,
        )
    finally:
        for process in processes:
            stop_app(process)
    print(table(result))
    print(summary(result))
    failed = result.errors()
    if failed and processes:
        print(f"the app's logs: {logs}")
    else:
        shutil.rmtree(logs, ignore_errors=True)
    for visit in failed[:10]:
        print(f"error: session {visit.session}, {visit.page}: {'; '.join(visit.errors)[:300]}")
    return 1 if failed else 0
