from __future__ import annotations

import subprocess
import sys

import pytest

from config.settings import PROJECT_ROOT, ConfigError, load_settings


def test_a_malformed_database_url_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://somewhere/db")
    with pytest.raises(ConfigError, match="Config 'DATABASE_URL' is malformed: must look like"):
        load_settings()


def test_a_non_numeric_limit_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHQL_MAX_DEPTH", "deep")
    with pytest.raises(ConfigError, match="GRAPHQL_MAX_DEPTH"):
        load_settings()


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/shutter")
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/0")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with pytest.raises(ConfigError, match="JWT_SECRET must be set"):
        load_settings()
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    assert load_settings().environment == "production"


def test_cors_origins_are_origins_and_any_is_for_development_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://app.example.com, http://localhost:5173")
    assert load_settings().cors_origins == ["https://app.example.com", "http://localhost:5173"]
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://app.example.com/login")
    with pytest.raises(ConfigError, match=r"CORS_ALLOW_ORIGINS.*is not an origin"):
        load_settings()
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "*")
    assert load_settings().cors_origins == ["*"]
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/shutter")
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/0")
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    with pytest.raises(ConfigError, match="may not be \\* in production"):
        load_settings()


def test_the_cli_stops_at_start_with_the_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "config.cli", "migrate"],
        env={"PATH": "/usr/bin:/bin", "REDIS_URL": "http://nope"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Config 'REDIS_URL' is malformed" in result.stderr
    assert "Traceback" not in result.stderr


def test_sentinels_name_the_queue_redis_only(monkeypatch: pytest.MonkeyPatch) -> None:
    watched = "redis+sentinel://:secret@10.0.0.1:26379,10.0.0.2:26379/queues/3"
    monkeypatch.setenv("REDIS_QUEUE_URL", watched)
    assert load_settings().redis_queue_url == watched
    monkeypatch.setenv("REDIS_QUEUE_URL", "redis+sentinel://10.0.0.1:26379")
    with pytest.raises(ConfigError, match=r"REDIS_QUEUE_URL.*the master.s name"):
        load_settings()
    monkeypatch.delenv("REDIS_QUEUE_URL")
    monkeypatch.setenv("REDIS_URL", watched)
    with pytest.raises(ConfigError, match=r"REDIS_URL.*for REDIS_QUEUE_URL"):
        load_settings()


def test_replica_urls_are_postgres_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_REPLICA_URLS", "postgresql://r1/shutter, postgresql://r2/shutter")
    assert load_settings().replica_urls == ["postgresql://r1/shutter", "postgresql://r2/shutter"]
    monkeypatch.setenv("DATABASE_REPLICA_URLS", "mysql://r1/shutter")
    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URLS"):
        load_settings()
