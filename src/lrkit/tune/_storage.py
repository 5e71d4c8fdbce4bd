"""Storages: in-memory, SQLite or PostgreSQL (Optuna RDB) with heartbeats, and safe study creation."""

from __future__ import annotations

import random
import re
import time
import warnings
from typing import Any

from lrkit._validate import check_int
from lrkit.errors import ConfigError, TuneError

__all__ = ["open_storage", "open_study", "redact"]

#: Defaults for the RDB heartbeat: a worker that stops beating for ``grace_period`` seconds is
#: considered dead; its RUNNING trial is failed and queued again for another worker.
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 30
MAX_RETRY = 3


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (it goes into error messages)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def open_storage(
    storage: Any,
    *,
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    grace_period: int = GRACE_PERIOD,
) -> Any:
    """Return an Optuna storage for ``storage`` (``None``: in memory; a URL; a storage object).

    RDB URLs (``sqlite:///``, ``postgresql://``, ``mysql://``) get heartbeats and a retry
    callback, so a killed worker's trial is failed and re-run elsewhere. Creating the schema is
    retried: workers that start together on a fresh database race to create it.
    """
    import optuna

    if storage is None:
        return optuna.storages.InMemoryStorage()
    if not isinstance(storage, str):
        return storage
    if "://" not in storage:
        raise ConfigError(
            f"storage must be a database URL such as sqlite:///tune.db or "
            f"postgresql://user@host/db, but got storage={storage!r}"
        )
    for name, v in (("heartbeat_interval", heartbeat_interval), ("grace_period", grace_period)):
        check_int("storage", name, v)
    url = _driver_url(storage)
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if storage.startswith("sqlite"):
        # SQLite locks under concurrent writers; wait for the lock instead of failing at once.
        engine_kwargs["connect_args"] = {"timeout": 60}
    elif storage.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": 10}
    callback = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    return _retry(
        lambda: optuna.storages.RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=callback,
        ),
        storage,
    )


def _driver_url(url: str) -> str:
    """Pick an installed PostgreSQL driver: SQLAlchemy 2.1 defaults to psycopg 3, lrkit's
    ``postgres`` extra installs psycopg2."""
    import importlib.util

    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
                return "postgresql+psycopg2://" + rest
            return "postgresql://" + rest
    return url


def open_study(
    storage: Any, study_name: str | None, direction: str, sampler: Any, pruner: Any, url: str = ""
) -> Any:
    """Create the study or load it if it exists (safe when several workers do it at once)."""
    import optuna

    return _retry(
        lambda: optuna.create_study(
            storage=storage,
            study_name=study_name,
            direction=direction,  # type: ignore[arg-type]
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
        ),
        url,
    )


def _retry(make: Any, url: str, attempts: int = 8) -> Any:
    """Call ``make`` and retry on creation races; a storage that cannot be reached is a TuneError."""
    import sqlalchemy.exc

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=Warning, module="optuna")
        warnings.filterwarnings("ignore", message=".*experimental.*")
        for i in range(attempts):
            try:
                return make()
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
                # Another worker created the same table/type/study a moment ago.
                if i == attempts - 1:
                    raise TuneError(
                        f"could not create the study in storage {redact(url)!r}: {_first_line(exc)}"
                    ) from exc
                time.sleep(0.05 + random.random() * 0.3 * (i + 1))
            except sqlalchemy.exc.OperationalError as exc:
                if _is_race(exc) and i < attempts - 1:
                    time.sleep(0.05 + random.random() * 0.3 * (i + 1))
                    continue
                raise TuneError(
                    f"cannot reach storage {redact(url)!r}: {_first_line(exc)} "
                    "(check the URL, that the database server runs and accepts connections)"
                ) from exc
            except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError) as exc:
                raise TuneError(f"invalid storage URL {redact(url)!r}: {_first_line(exc)}") from exc
            except ImportError as exc:
                raise TuneError(
                    f"storage {redact(url)!r} needs a database driver that is not installed "
                    "(for PostgreSQL: pip install 'lrkit[postgres]', which installs psycopg2)"
                ) from exc
    raise AssertionError("unreachable")


def _is_race(exc: Exception) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "already exists" in text or "deadlock" in text


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
