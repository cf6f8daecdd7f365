"""The PostgreSQL server the tests may use: the one `.ci/run` starts (RECSTACK_TEST_POSTGRES_DSN).

One helper for every suite that runs a contract against a real PostgreSQL (the prediction log,
the match-job table, the Optuna sweep storage): it skips with the reason when no server is
configured or answering, and runs the suite's clean-up statements first.
"""

from __future__ import annotations

import os

import pytest


def postgres_dsn(*cleanup: str) -> str:
    """The test server's DSN after running ``cleanup`` (autocommit); skips the test when there
    is no server, no psycopg, or the server does not answer."""
    dsn = os.environ.get("RECSTACK_TEST_POSTGRES_DSN")
    if not dsn:
        pytest.skip("no PostgreSQL server for tests: set RECSTACK_TEST_POSTGRES_DSN "
                    "(.ci/run starts one)")
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
            for statement in cleanup:
                conn.execute(statement)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {dsn} does not answer: {exc}")
    return dsn
