"""Helpers shared by subcommands: settings from arguments, an engine, running coroutines."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # imported lazily: every `dnsaas` command loads this module
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dnsaas.settings import Settings

T = TypeVar("T")


def add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", help="SQLAlchemy URL (overrides DNSAAS_DATABASE_URL)")
    parser.add_argument("--config", help="config file (overrides DNSAAS_CONFIG)")


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings from the environment and config file, overridden by explicit options."""
    from dnsaas.settings import load_settings

    return load_settings(database_url=getattr(args, "database", None),
                         config=getattr(args, "config", None), **extra)


async def open_database(settings: Settings, *, auto_migrate: bool | None = None,
                        report: Callable[[str], None] | None = None) -> AsyncEngine:
    """An engine on a prepared database (embedded SQLite is migrated automatically)."""
    from dnsaas.storage import bootstrap, db

    engine = db.create_engine(settings.database_url, pool_size=settings.db_pool_size)
    for line in await bootstrap.prepare(engine, settings, auto_migrate=auto_migrate):
        if report:
            report(line)
    return engine


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]
