"""One small job interface with two runners.

- In-process (default): a thread pool plus a periodic scheduler thread, for one machine.
- Redis (when ``REDIS_URL`` is set): jobs go to an RQ queue; ``flask jobs worker`` runs them
  and the periodic scheduler, with a Redis lock so one period fires once across workers.

Jobs are registered by name with :func:`job`; arguments must be JSON-like values.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)

# Modules that define jobs; imported by ``load_jobs`` so both runners know every job.
JOB_MODULES = ["accounts.jobs", "exams.jobs", "storage.jobs", "idcheck.jobs", "privacy.jobs"]


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


def run_job(name: str, kwargs: dict[str, Any]) -> Any:
    """Run a registered job inside an application context (entry point for every runner)."""
    load_jobs()
    jd = JOBS[name]
    if has_app_context():
        return jd.func(**kwargs)
    app = _worker_app()
    with app.app_context():
        return jd.func(**kwargs)


_app_lock = threading.Lock()
_app: Flask | None = None


def _worker_app() -> Flask:
    global _app
    with _app_lock:
        if _app is None:
            from app import create_app

            _app = create_app()
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
                return JOBS[name].func(**kwargs)
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

    def start(self) -> None:
        """Start the periodic scheduler thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._schedule, name="job-scheduler", daemon=True)
            self._thread.start()

    def _schedule(self) -> None:
        from app.clock import utcnow

        last: dict[str, dt.datetime] = {}
        while not self._stop.wait(self._tick):
            now = utcnow()
            for jd in load_jobs().values():
                if jd.every and now - last.get(jd.name, dt.datetime.min) >= jd.every:
                    last[jd.name] = now
                    self.enqueue(jd.name)

    def stop(self) -> None:
        """Stop the scheduler and wait for running jobs."""
        self._stop.set()
        self._pool.shutdown(wait=True)


class RedisRunner:
    """RQ-backed runner: any process may enqueue; ``flask jobs worker`` processes run them."""

    def __init__(self, redis_url: str, queue: str) -> None:
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(redis_url)
        self.queue = Queue(queue, connection=self.redis)
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

    def stop(self) -> None:
        """Stop a scheduler loop started by ``schedule_forever``."""
        self._stop.set()

    def fire_due(self, now: dt.datetime) -> list[str]:
        """Enqueue every periodic job whose period began since it last fired (one worker wins per period)."""
        fired = []
        for jd in load_jobs().values():
            if not jd.every:
                continue
            period = int(now.timestamp() // jd.every.total_seconds())
            lock = f"aufsicht:sched:{self.queue.name}:{jd.name}:{period}"
            if self.redis.set(lock, b"1", nx=True, ex=int(jd.every.total_seconds()) * 2 + 60):
                self.enqueue(jd.name)
                fired.append(jd.name)
        return fired

    def schedule_forever(self, tick: float = 5.0) -> None:
        """Run ``fire_due`` every ``tick`` seconds until stopped."""
        from app.clock import utcnow

        while not self._stop.wait(tick):
            try:
                self.fire_due(utcnow())
            except Exception:  # Redis down: keep trying, the queue recovers by itself
                log.exception("scheduler tick failed")


def make_runner(app: Flask) -> JobRunner:
    """The runner the configuration asks for."""
    if app.config.get("REDIS_URL"):
        return RedisRunner(app.config["REDIS_URL"], app.config["JOB_QUEUE"])
    return InProcessRunner(app, workers=int(app.config["JOB_WORKERS"]))


def runner() -> JobRunner:
    """The job runner of the current app."""
    return current_app.extensions["aufsicht.jobs"]
