"""Rank/world helpers on ``torch.distributed``: start from ``torchrun``'s environment,
sum tensors over ranks, split work into shards, pass a failing rank's message on.
Stages do not call these directly: they are handed a ``collective.Collective``, which
wraps them (see ``logitkit._util.collective``).

Outside ``torchrun`` (no ``RANK``/``WORLD_SIZE`` in the environment, or a world of one)
every helper is a no-op: ``rank() == 0``, ``world_size() == 1``, ``all_reduce_sum(t)``
returns ``t``. The backend is gloo on CPUs and NCCL when the process owns a GPU
(``LOCAL_RANK`` < the number of GPUs); ``LOGITKIT_DIST_BACKEND`` overrides it and ``LOGITKIT_DIST_TIMEOUT``
(seconds, default 600) bounds how long a collective waits for a silent peer.
"""
from __future__ import annotations

import atexit
import datetime
import logging
import os
import socket
import time
from contextlib import contextmanager

import torch
import torch.distributed as dist

from logitkit._util.errors import StoppedError, UserError

log = logging.getLogger("logitkit.dist")

_ERROR_KEY = "logitkit/error"


class RankFailedError(StoppedError, RuntimeError):
    """Another rank failed; the message is that rank's own (``rank R: Type: text``), or
    names the rank that ended without one. ``failed_rank``: that rank, when known;
    ``killed``: it ended without a message (its process is gone)."""

    def __init__(self, message: str, failed_rank: int | None = None, killed: bool = False) -> None:
        super().__init__(message)
        self.failed_rank, self.killed = failed_rank, killed


def launched() -> bool:
    """True when the environment says a launcher (``torchrun``) started a world of > 1."""
    return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_distributed() -> bool:
    """True inside an initialised process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Rank 0 (or no distribution at all): the rank that writes files."""
    return rank() == 0


def backend() -> str | None:
    return dist.get_backend() if is_distributed() else None


def init_from_env(backend: str | None = None, timeout_s: float | None = None) -> bool:
    """Join the process group ``torchrun`` describes (``env://``); True if distributed.

    Idempotent; does nothing (returns False) outside a launcher. ``shutdown`` runs at
    exit if not called before.
    """
    if is_distributed():
        return True
    if not launched():
        return False
    if backend is None:
        backend = os.environ.get("LOGITKIT_DIST_BACKEND")
    if backend is None:  # NCCL needs one GPU per local rank
        local = int(os.environ.get("LOCAL_RANK", -1))
        backend = "nccl" if torch.cuda.is_available() and 0 <= local < torch.cuda.device_count() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    timeout = float(timeout_s if timeout_s is not None else os.environ.get("LOGITKIT_DIST_TIMEOUT", 600))
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))
    atexit.register(shutdown)  # (a no-op after an explicit shutdown)
    _note("pid", f"{os.getpid()} {socket.gethostname()}")  # to tell, later, which rank was killed
    log.info("rank %d of %d joined (%s)", dist.get_rank(), dist.get_world_size(), backend)
    return True


def shutdown() -> None:
    """Leave the process group (if any), with no work of gloo's threads left for the
    interpreter's exit.

    A gloo worker thread drops its reference to a finished collective (and so, maybe, to
    a tensor Python made) after the caller has its result, and for that it takes the GIL.
    If the interpreter is finalising by then, the thread is ended inside a C++ destructor
    and the process aborts ("terminate called without an active exception": a rank that
    did all its work fails). ``destroy_process_group`` usually joins those threads, but
    not once ``torch._dynamo`` is imported (``torch.optim`` does): something keeps the
    group alive. So this hands the GIL to them for a moment, while Python is still whole.
    """
    if dist.is_available() and dist.is_initialized():
        _note("left", "")  # (a rank that ends now is not one that was killed)
        dist.destroy_process_group()
        time.sleep(0.05)  # (releases the GIL: a thread waiting for it finishes its work)


def comm_device() -> torch.device:
    """Where tensors must live for a collective: the GPU for NCCL, else the CPU."""
    if backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Σ over ranks of ``t`` (a new tensor, on ``t``'s device and dtype); ``t`` if alone."""
    if not is_distributed():
        return t
    dev = comm_device()
    buf = t.detach().to(dev, copy=True).contiguous()
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return buf.to(t.device)


def all_reduce_max(t: torch.Tensor) -> torch.Tensor:
    """Element-wise max over ranks (a new tensor)."""
    if not is_distributed():
        return t
    buf = t.detach().to(comm_device(), copy=True).contiguous()
    dist.all_reduce(buf, op=dist.ReduceOp.MAX)
    return buf.to(t.device)


def all_gather_object(obj) -> list:
    """[obj of rank 0, obj of rank 1, ...] (picklable Python objects, small)."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    """Rank ``src``'s ``obj`` on every rank (picklable, small)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather_object(obj, dst: int = 0) -> list | None:
    """[obj of rank 0, obj of rank 1, ...] on rank ``dst``, None elsewhere (picklable)."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size() if rank() == dst else None
    dist.gather_object(obj, out, dst=dst)
    return out


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def shard_range(n: int, r: int | None = None, w: int | None = None) -> tuple[int, int]:
    """Rank r's contiguous part [lo, hi) of n items; sizes differ by at most one."""
    r = rank() if r is None else r
    w = world_size() if w is None else w
    base, extra = divmod(int(n), w)
    lo = r * base + min(r, extra)
    return lo, lo + base + (1 if r < extra else 0)


# ------------------------------------------------------------------ failures
def _store():
    try:
        return dist.distributed_c10d._get_default_store()  # the launcher's key-value store
    except Exception:  # noqa: BLE001 - no store: messages just do not travel
        return None


def _note(what: str, value: str) -> None:
    """Leave ``logitkit/<what>/<this rank>`` in the launcher's store (nothing if it is gone)."""
    store = _store() if is_distributed() else None
    if store is not None:
        try:
            store.set(f"logitkit/{what}/{rank()}", value)
        except Exception:  # noqa: BLE001 - the store may be gone already
            pass


def publish_error(message: str) -> None:
    """Leave this rank's failure message where the other ranks can read it. The first
    rank to fail wins: a later failure (often caused by the first) does not replace it."""
    store = _store() if is_distributed() else None
    if store is None:
        return
    try:
        store.compare_set(_ERROR_KEY, "", message)
        store.set(f"logitkit/failed/{rank()}", message)
    except Exception:  # noqa: BLE001 - the store may be gone already
        pass


def note_stopped() -> None:
    """Say that this rank was stopped by the launcher (SIGTERM), so no rank blames it."""
    _note("stopped", "")


def peer_failure(exc: BaseException) -> BaseException:
    """What to raise for ``exc``: a collective that broke because another rank failed
    becomes that rank's error (``RankFailedError`` with its message, or naming the rank
    that ended without one); anything else (a ``UserError``, a failure of this rank's
    own) is ``exc`` itself."""
    if not is_distributed() or isinstance(exc, (UserError, RankFailedError)) or not isinstance(exc, RuntimeError):
        return exc
    seen = str(exc).split("] ", 1)[-1].split(". ", 1)[0]  # gloo's "Connection closed by peer [...]"
    return blame(1.0, f"rank {rank()} saw: {seen}")


def blame(wait_s: float, after: str, unknown: str | None = None) -> RankFailedError:
    """The error for a job that some other rank broke: the first published failure, else
    the rank whose process is gone without a word (ranks on this host), polling up to
    ``wait_s``; else ``unknown`` (default: a rank stopped without a message)."""
    peer = peer_error(wait_s)
    if peer is not None:
        return RankFailedError(peer, _rank_of(peer))
    gone = silent_ranks()
    if gone:
        r, pid, host = gone[0]
        return RankFailedError(f"rank {r} (pid {pid} on {host}) ended without a message (killed by a signal, or out "
                               f"of memory?); {after}", r, killed=True)
    return RankFailedError(unknown or f"a rank stopped without a message (killed?); {after}")


def _rank_of(message: str) -> int | None:
    head = message.split(":", 1)[0]
    return int(head[5:]) if head.startswith("rank ") and head[5:].isdigit() else None


def silent_ranks() -> list[tuple[int, int, str]]:
    """(rank, pid, host) of the other ranks on this host whose process is gone although they
    neither published a failure nor left nor were stopped by the launcher: the killed ones."""
    store = _store() if is_distributed() else None
    if store is None:
        return []
    out = []
    try:
        for r in range(world_size()):
            accounted = any(store.check([f"logitkit/{k}/{r}"]) for k in ("failed", "left", "stopped"))
            if r == rank() or accounted or not store.check([f"logitkit/pid/{r}"]):
                continue
            pid, host = store.get(f"logitkit/pid/{r}").decode().split(" ", 1)
            if host == socket.gethostname() and not _alive(int(pid)):
                out.append((r, int(pid), host))
    except Exception:  # noqa: BLE001 - the store is gone with the launcher
        return out
    return out


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except OSError:
            return True


@contextmanager
def peer_failures():
    """Inside: a collective broken by another rank's failure raises that rank's error."""
    try:
        yield
    except Exception as exc:
        peer = peer_failure(exc)
        if peer is exc:
            raise
        raise peer from exc


def peer_error(wait_s: float = 1.0) -> str | None:
    """The message a failing rank published, polling up to ``wait_s`` for it; or None as
    soon as a rank is known to have ended without one."""
    store = _store() if is_distributed() else None
    if store is None:
        return None
    deadline = time.monotonic() + wait_s
    try:
        while not store.check([_ERROR_KEY]):
            if time.monotonic() >= deadline or silent_ranks():
                return None  # nothing published (e.g. the rank was killed)
            time.sleep(0.05)
        return store.get(_ERROR_KEY).decode()
    except Exception:  # noqa: BLE001 - the store is gone with the launcher
        return None
