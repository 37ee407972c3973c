"""Starting or joining Ray for a search, optionally in the background while the data loads.

``ray.init`` of a local Ray takes 4-7 s on a 2-core machine (it spawns the GCS, the raylet
and their helpers, then waits for them), most of it waiting on other processes. ``hpsearch
run`` calls :func:`start_early` right after the config is validated, so that Ray starts while
the genotypes are parsed and the MLflow store is opened; the executor's first stage then only
joins that start (:func:`init_ray` returns at once). Measured with ``scripts/bench_parallel.py``.

Nothing here changes what a search computes: the same ``ray.init`` call runs, only earlier.
If the data turn out to be bad, :func:`cancel_early` waits for the start and shuts Ray down
again before the one-line error and exit code 2.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field

from hpsearch.config import ExecutionConfig
from hpsearch.errors import ConfigError

log = logging.getLogger(__name__)

#: Ray's own warning when ``ray.init`` runs outside the main thread; the handler it would
#: install there (SIGTERM → ``sys.exit``, so that Ray's exit hooks run) is installed by
#: :func:`start_early` from the main thread instead.
_THREAD_WARNING = "SIGTERM handler is not set"


def check_reachable(address: str) -> None:
    """Fail fast on a ``host:port`` nobody listens at (``ray.init`` would retry for minutes)."""
    if address == "auto" or "://" in address:
        return  # Ray finds the cluster itself / a Ray Client address
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError.at(
            None, "execution.address", "be HOST:PORT of a Ray head node (or 'auto')", address
        )
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        raise ConfigError.at(
            None,
            "execution.address",
            "name a running Ray cluster (start one with 'ray start --head')",
            address,
            f"cannot connect: {exc}",
        ) from None


def local_only_env() -> None:
    """Environment for a private local Ray, set before Ray is imported (unless the user did).

    - ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: Ray replaces a node address of 127.0.0.1 by
      the machine's routable address and binds its gRPC servers to every interface; with
      this switch (read once, when Ray is imported) the node's address is the loopback and
      every listener binds to 127.0.0.1 only (checked with ``ss -ltn``). It also means this
      process cannot serve as a node of a multi-machine cluster, which a local Ray is not.
    - ``RAY_AUTH_MODE=disabled``: Ray 2.60 turns token authentication on by default, logs a
      warning on every start and writes ``~/.ray/auth_token``; a cluster private to this
      process and reachable on 127.0.0.1 only does not need it. A joined cluster keeps
      whatever mode its owner chose (the driver must match it to connect), so neither is set
      for ``execution.address``.
    """
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def _prepare_env(execution: ExecutionConfig) -> None:
    """What must happen before Ray is imported, in the calling (main) thread."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if execution.address:
        check_reachable(execution.address)
    else:
        local_only_env()


def _connect(execution: ExecutionConfig) -> bool:
    """``ray.init`` as hpsearch wants it; True when this call started or joined Ray."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    address = execution.address
    if address:
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError.at(
                None,
                "execution.address",
                "name a running Ray cluster (start one with 'ray start --head')",
                address,
                " ".join(str(exc).split())[:200],
            ) from None
        return True
    ray.init(
        address="local",  # never a cluster some earlier `ray start` left behind
        num_cpus=os.cpu_count() or 1,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        **quiet,
    )
    node_ip = ray.util.get_node_ip_address()
    if node_ip != "127.0.0.1":
        log.warning(
            "Ray was imported before hpsearch started it, so its local cluster "
            "listens on %s, not only on 127.0.0.1",
            node_ip,
        )
    return True


@dataclass
class _EarlyStart:
    """A ``ray.init`` running in a background thread, and how it ended.

    The thread stays alive (parked on ``release``) while the Ray it started runs: Ray spawns
    the GCS and the raylet with ``PR_SET_PDEATHSIG``, which Linux fires when the *thread*
    that spawned them ends, not the process; a thread that returned right after
    ``ray.init`` would take the cluster down with it (seen: "Failed to connect to GCS").
    """

    connected: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    started_here: bool = False
    error: BaseException | None = None


_early: _EarlyStart | None = None  # an early start not yet taken over by init_ray
_parked: threading.Event | None = None  # releases the thread that started the running Ray


def start_early(execution: ExecutionConfig) -> None:
    """Begin starting (or joining) Ray now, in a background thread; idempotent.

    Call from the main thread once the config is known to be valid. The next
    :func:`init_ray` (the executor's first stage) waits for it and raises what it raised.
    """
    global _early
    if _early is not None or ("ray" in sys.modules and _ray_initialised()):
        return
    _prepare_env(execution)
    if threading.current_thread() is threading.main_thread():
        _install_sigterm_exit()
    early = _EarlyStart()

    def work() -> None:
        ray_logger = logging.getLogger("ray._private.worker")
        hide = _MessageFilter(_THREAD_WARNING)
        ray_logger.addFilter(hide)
        try:
            early.started_here = _connect(execution)
        except BaseException as exc:  # handed to the main thread by init_ray
            early.error = exc
        finally:
            ray_logger.removeFilter(hide)
            early.connected.set()
        if early.started_here:
            early.release.wait()  # see _EarlyStart: Ray's processes live as long as we wait

    _early = early
    threading.Thread(target=work, name="hpsearch-ray-start", daemon=True).start()


def init_ray(execution: ExecutionConfig) -> bool:
    """Start or join Ray (or finish an early start); True when this process connected here.

    A True answer means the caller owns the connection: it calls :func:`shutdown_ray`.
    """
    global _early, _parked
    early, _early = _early, None
    if early is not None:
        early.connected.wait()
        if early.error is not None:
            raise early.error
        if early.started_here:
            _parked = early.release
            return True
    _prepare_env(execution)
    return _connect(execution)


def shutdown_ray() -> None:
    """``ray.shutdown()``, then let the thread of an early start end."""
    global _parked
    import ray

    ray.shutdown()
    if _parked is not None:
        _parked.set()
        _parked = None


def cancel_early() -> None:
    """Undo an early start whose search will not run (bad data): wait, then shut Ray down."""
    global _early
    early, _early = _early, None
    if early is None:
        return
    early.connected.wait()
    if early.started_here:
        import ray

        ray.shutdown()
        early.release.set()


def _ray_initialised() -> bool:
    import ray

    return bool(ray.is_initialized())


def _install_sigterm_exit() -> None:
    """SIGTERM → ``sys.exit`` (Ray's exit hooks then stop the processes it started), as
    ``ray.init`` does itself when called from the main thread; a handler the program already
    set is kept."""
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))


class _MessageFilter(logging.Filter):
    """Drops log records whose message starts with a given text."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.prefix)
