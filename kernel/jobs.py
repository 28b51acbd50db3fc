"""One small job interface with two runners.

- In-process (default): a thread pool plus a periodic scheduler thread, for one machine.
- Redis (when ``REDIS_URL`` is set): jobs go to an RQ queue; ``flask jobs worker`` runs them
  and the periodic scheduler, with a Redis lock so one period fires once across workers.

Jobs are registered by name with :func:`job`; arguments must be JSON-like values.

Delivery is at least once: RQ puts an abandoned job back, a periodic ``requeue_stalled`` job of a
domain queues again the work its tables still show as pending (the queue was down when the request
committed it, or a worker died), and :func:`run_job` runs a job again while the database is
unreachable. So every job must be idempotent: a second run, after or beside the first, has no
further effect (jobs working on one thing take :func:`exclusive` and look at its state first).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)

# Modules that define jobs, imported by ``load_jobs`` so both runners know every job, and the factory a
# worker process builds its app with. The web layer's ``create_app`` sets both (``configure``): the
# kernel knows no domain and no web layer by name.
JOB_MODULES: list[str] = []
_app_factory: Callable[[], Flask] | None = None


def configure(modules: list[str], app_factory: Callable[[], Flask]) -> None:
    """Name the modules that define jobs and the factory a worker process builds its app with."""
    global _app_factory
    JOB_MODULES[:] = modules
    _app_factory = app_factory


@dataclasses.dataclass(frozen=True)
class JobDef:
    """A registered job: its name, function and optional period."""

    name: str
    func: Callable[..., Any]
    every: dt.timedelta | None


JOBS: dict[str, JobDef] = {}


def job(name: str, every: dt.timedelta | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a job function under ``name``; with ``every`` it also runs periodically."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        JOBS[name] = JobDef(name, func, every)
        return func

    return register


def load_jobs() -> dict[str, JobDef]:
    """Import every job module and return the registry."""
    for mod in JOB_MODULES:
        importlib.import_module(mod)
    return JOBS


class JobRunner(Protocol):
    """What the web app and services use to run work in the background."""

    def enqueue(self, name: str, **kwargs: Any) -> str:
        """Queue job ``name`` with keyword arguments; return a job id."""

    def status(self, job_id: str) -> str:
        """One of queued, started, finished, failed, unknown."""

    def start(self) -> None:
        """Start workers and the periodic scheduler (only in processes that serve jobs)."""

    def stop(self) -> None:
        """Stop workers and scheduler."""


def period(jd: JobDef, overrides: dict[str, Any] | None) -> dt.timedelta | None:
    """How often a periodic job fires: its registered period, or JOB_PERIODS[name] seconds from the config."""
    if not jd.every:
        return None
    seconds = (overrides or {}).get(jd.name)
    return dt.timedelta(seconds=float(seconds)) if seconds else jd.every


def run_job(name: str, kwargs: dict[str, Any]) -> Any:
    """Run a registered job inside an application context (entry point for every runner)."""
    load_jobs()
    jd = JOBS[name]
    if has_app_context():
        return call_with_retries(jd, kwargs)
    app = _worker_app()
    with app.app_context():
        return call_with_retries(jd, kwargs)


def call_with_retries(jd: JobDef, kwargs: dict[str, Any]) -> Any:
    """Run a job; while the database is unreachable, wait and run it again (JOB_DB_RETRY_SECONDS at most).

    A restart of PostgreSQL then delays the jobs under way instead of failing them; running one again is
    safe because every job is idempotent.
    """
    from sqlalchemy.exc import InterfaceError, OperationalError

    from kernel.db import db

    deadline = time.monotonic() + float(current_app.config.get("JOB_DB_RETRY_SECONDS", 60))
    delay = 0.5
    while True:
        try:
            return jd.func(**kwargs)
        except (OperationalError, InterfaceError) as err:
            with contextlib.suppress(Exception):
                db.session.rollback()
            if time.monotonic() + delay > deadline:
                raise
            log.warning("job %s: database unavailable (%s); running it again in %.1f s", jd.name,
                        (str(err).splitlines() or [""])[0], delay)
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


_held_lock = threading.Lock()
_held: set[str] = set()


@contextlib.contextmanager
def exclusive(key: str) -> Iterator[bool]:
    """Hold the lock ``key`` (e.g. "idcheck.verify:42") while a job works on one thing; yields False, without
    waiting, when another run holds it.

    On PostgreSQL an advisory lock on a connection of its own: every worker process and host sees it, and
    it goes with the connection if the process dies. On SQLite (one process) a lock in this process.
    """
    from sqlalchemy import text

    from kernel.db import db

    if db.engine.dialect.name != "postgresql":
        with _held_lock:
            mine = key not in _held
            _held.add(key)
        try:
            yield mine
        finally:
            if mine:
                with _held_lock:
                    _held.discard(key)
        return
    number = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
    conn = db.engine.connect()
    try:
        mine = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": number}).scalar())
        conn.commit()  # the lock belongs to the connection's session, not to this transaction
    except Exception:
        conn.invalidate()
        conn.close()
        raise
    try:
        yield mine
    finally:
        if mine:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": number})
                conn.commit()
            except Exception:  # the server is gone, and the lock with the connection; never pool it again
                conn.invalidate()
        conn.close()


def enqueue_pending(name: str, **kwargs: Any) -> str | None:
    """Queue a job for work that the database already records as pending (committed before this call).

    When the queue cannot be reached, log it and return None instead of failing the request whose work is
    already saved: the domain's periodic ``requeue_stalled`` job finds the pending work and queues it.
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    try:
        return runner().enqueue(name, **kwargs)
    except (RedisConnectionError, RedisTimeoutError) as err:
        log.warning("job queue unavailable, %s %s left for its requeue: %s", name, kwargs, err)
        return None


def stalled_before(now: dt.datetime) -> dt.datetime:
    """Pending work last touched before this time is queued again (JOB_STALLED_AFTER_SECONDS)."""
    return now - dt.timedelta(seconds=float(current_app.config["JOB_STALLED_AFTER_SECONDS"]))


_app_lock = threading.Lock()
_app: Flask | None = None


def _worker_app() -> Flask:
    global _app
    with _app_lock:
        if _app is None:
            if _app_factory is None:
                raise RuntimeError("kernel.jobs.configure() was not called: no app factory for this worker")
            _app = _app_factory()
        return _app


class InProcessRunner:
    """Thread-pool runner with a periodic scheduler; state lives in this process only."""

    def __init__(self, app: Flask, workers: int = 2, tick: float = 1.0) -> None:
        self._app = app
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._futures: dict[str, Future[Any]] = {}
        self._stop = threading.Event()
        self._tick = tick
        self._thread: threading.Thread | None = None

    def enqueue(self, name: str, **kwargs: Any) -> str:
        """Queue a job on the thread pool."""
        if name not in load_jobs():
            raise KeyError(name)
        job_id = uuid.uuid4().hex
        self._futures[job_id] = self._pool.submit(self._run, name, kwargs)
        return job_id

    def _run(self, name: str, kwargs: dict[str, Any]) -> Any:
        with self._app.app_context():
            try:
                return call_with_retries(JOBS[name], kwargs)
            except Exception:
                log.exception("job %s failed", name)
                raise

    def status(self, job_id: str) -> str:
        """State of a job queued in this process."""
        fut = self._futures.get(job_id)
        if fut is None:
            return "unknown"
        if not fut.done():
            return "started" if fut.running() else "queued"
        return "failed" if fut.exception() else "finished"

    def wait(self, job_id: str, timeout: float = 30) -> Any:
        """Block until a job finishes and return its result (tests, CLI)."""
        return self._futures[job_id].result(timeout=timeout)

    def wait_all(self, timeout: float = 60) -> None:
        """Block until every job queued so far, and every job those queued, has ended (tests)."""
        seen: set[str] = set()
        while pending := [job_id for job_id in list(self._futures) if job_id not in seen]:
            for job_id in pending:
                seen.add(job_id)
                self._futures[job_id].exception(timeout=timeout)  # a failed job is logged by _run

    def start(self) -> None:
        """Start the periodic scheduler thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._schedule, name="job-scheduler", daemon=True)
            self._thread.start()

    def _schedule(self) -> None:
        from kernel.clock import utcnow

        last: dict[str, dt.datetime] = {}
        while not self._stop.wait(self._tick):
            now = utcnow()
            for jd in load_jobs().values():
                every = period(jd, self._app.config.get("JOB_PERIODS"))
                if every and now - last.get(jd.name, dt.datetime.min) >= every:
                    last[jd.name] = now
                    self.enqueue(jd.name)

    def stop(self) -> None:
        """Stop the scheduler and wait for running jobs."""
        self._stop.set()
        self._pool.shutdown(wait=True)


class RedisRunner:
    """RQ-backed runner: any process may enqueue; ``flask jobs worker`` processes run them."""

    def __init__(self, redis_url: str, queue: str, periods: dict[str, Any] | None = None) -> None:
        from redis import Redis
        from rq import Queue

        # Timeouts, so that a Redis that is gone fails a request in seconds instead of holding its thread
        # (an RQ worker raises the read timeout above its blocking dequeue by itself).
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=10)
        self.queue = Queue(queue, connection=self.redis)
        self.periods = dict(periods or {})
        self._stop = threading.Event()

    def enqueue(self, name: str, **kwargs: Any) -> str:
        """Put a job on the Redis queue."""
        if name not in load_jobs():
            raise KeyError(name)
        return str(self.queue.enqueue(run_job, name, kwargs, result_ttl=3600, failure_ttl=86400).id)

    def status(self, job_id: str) -> str:
        """State of a job as Redis knows it."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            st = Job.fetch(job_id, connection=self.redis).get_status()
        except NoSuchJobError:
            return "unknown"
        return {"queued": "queued", "started": "started", "finished": "finished", "failed": "failed"}.get(
            str(st.value if st is not None and hasattr(st, "value") else st), "queued"
        )

    def start(self) -> None:
        """Nothing to start in a web process: workers run as ``flask jobs worker``."""

    def work(self, burst: bool = False) -> None:
        """Run an RQ worker on the queue until it is told to stop (SIGTERM, SIGINT) or, with ``burst``, empty.

        An RQ worker waits for Redis by itself while idle, but gives up when Redis goes away while a job
        runs, or is down when it starts; then a new worker takes over after a pause (1 s, doubling to 30 s).
        """
        import signal

        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
        from rq import Worker

        class _Worker(Worker):
            stop_requested = False

            def request_stop(self, signum: Any, frame: Any) -> None:
                self.stop_requested = True
                super().request_stop(signum, frame)

        pause = 0.5
        while True:
            started, worker = time.monotonic(), None
            try:
                worker = _Worker([self.queue], connection=self.redis)  # (it talks to Redis already)
                worker.work(burst=burst)
            except (RedisConnectionError, RedisTimeoutError) as err:
                log.warning("job worker lost Redis: %s", err)
            if burst or (worker is not None and worker.stop_requested):
                return
            # RQ's handlers would act on the finished worker: a signal now simply ends the process.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            pause = 1.0 if time.monotonic() - started > 60 else min(pause * 2, 30.0)
            log.warning("job worker stopped without being asked to; a new one starts in %.0f s", pause)
            if self._stop.wait(pause):
                return

    def stop(self) -> None:
        """Stop a scheduler loop started by ``schedule_forever`` (and ``work`` between two RQ workers)."""
        self._stop.set()

    def fire_due(self, now: dt.datetime) -> list[str]:
        """Enqueue every periodic job whose period began since it last fired (one worker wins per period)."""
        fired = []
        for jd in load_jobs().values():
            every = period(jd, self.periods)
            if not every:
                continue
            number = int(now.timestamp() // every.total_seconds())
            lock = f"aufsicht:sched:{self.queue.name}:{jd.name}:{number}"
            if self.redis.set(lock, b"1", nx=True, ex=int(every.total_seconds()) * 2 + 60):
                self.enqueue(jd.name)
                fired.append(jd.name)
        return fired

    def schedule_forever(self, tick: float = 5.0) -> None:
        """Run ``fire_due`` every ``tick`` seconds until stopped."""
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        from kernel.clock import utcnow

        while not self._stop.wait(tick):
            try:
                self.fire_due(utcnow())
            except (RedisConnectionError, RedisTimeoutError) as err:  # Redis down: the next tick tries again
                log.warning("scheduler: Redis unavailable: %s", err)
            except Exception:
                log.exception("scheduler tick failed")


def make_runner(app: Flask) -> JobRunner:
    """The runner the configuration asks for."""
    if app.config.get("REDIS_URL"):
        return RedisRunner(app.config["REDIS_URL"], app.config["JOB_QUEUE"], app.config.get("JOB_PERIODS"))
    return InProcessRunner(app, workers=int(app.config["JOB_WORKERS"]))


def runner() -> JobRunner:
    """The job runner of the current app."""
    return current_app.extensions["aufsicht.jobs"]
