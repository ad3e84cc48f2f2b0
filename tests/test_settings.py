import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from drydock.env import env_bool, env_choice, env_int, env_labels, env_list
from tests.conftest import BASE_DIR


def run_settings(env):
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_DEBUG"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"],
        cwd=BASE_DIR, env={**clean, "DJANGO_SETTINGS_MODULE": "drydock.settings", **env},
        capture_output=True, text=True, timeout=60,
    )


def test_production_run_without_secret_key_refuses_to_start():
    result = run_settings({})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_is_off_unless_asked_for():
    assert run_settings({"SECRET_KEY": "k" * 50}).stdout.strip() == "False"
    assert run_settings({"DJANGO_DEBUG": "1"}).stdout.strip() == "True"


def test_a_bad_boolean_stops_start_up_naming_the_variable():
    result = run_settings({"SECRET_KEY": "k" * 50, "DJANGO_DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_env_helpers_parse_good_values_and_refuse_bad_ones_naming_the_variable(monkeypatch):
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env_bool("X_BOOL") is True
    assert env_int("X_INT", 0, minimum=1, maximum=100) == 42
    assert env_list("X_LIST") == ["a", "b", "c"]
    assert env_int("X_MISSING", 7) == 7
    monkeypatch.setenv("X_INT", "4x")
    with pytest.raises(ImproperlyConfigured, match="X_INT='4x' is not an integer"):
        env_int("X_INT", 0)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum 1"):
        env_int("X_INT", 5, minimum=1)
    monkeypatch.setenv("X_LEVEL", "LOUD")
    with pytest.raises(ImproperlyConfigured, match="X_LEVEL='LOUD' is not one of"):
        env_choice("X_LEVEL", "INFO", {"INFO", "DEBUG"})


def test_sandbox_labels_are_key_value_pairs_and_anything_else_stops_start_up(monkeypatch):
    monkeypatch.setenv("X_LABELS", "drydock.test=1, school=lycée ,empty=")
    assert env_labels("X_LABELS") == {"drydock.test": "1", "school": "lycée", "empty": ""}
    for wrong in ("foo", "=1", "a b=1"):
        monkeypatch.setenv("X_LABELS", f"ok=1,{wrong}")
        with pytest.raises(ImproperlyConfigured, match=f"X_LABELS: {wrong!r} is not a label: write key=value"):
            env_labels("X_LABELS")
    result = run_settings({"SECRET_KEY": "k" * 50, "SANDBOX_LABELS": "foo"})
    assert result.returncode != 0 and "SANDBOX_LABELS: 'foo' is not a label" in result.stderr


def test_env_example_documents_every_variable_settings_read():
    import re

    read = set(re.findall(r'env_[a-z]+\("([A-Z_]+)"', (BASE_DIR / "drydock" / "settings.py").read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (BASE_DIR / ".env.example").read_text(), re.M))
    assert read - documented == set()


def _database(env):
    """CONN_MAX_AGE and the pool's options as settings.py makes them from `env` (PostgreSQL unless it says)."""
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "d = settings.DATABASES['default']; print(d['CONN_MAX_AGE'], d.get('OPTIONS', {}).get('pool'))"],
        cwd=BASE_DIR, env={**os.environ, "DJANGO_SETTINGS_MODULE": "drydock.settings", "SECRET_KEY": "k" * 50,
                           "DATABASE_URL": "postgres://drydock@127.0.0.1:5432/drydock", "DATABASE_CONN_MAX_AGE": "", **env},
        capture_output=True, text=True, timeout=60,
    )


def test_sqlite_connections_are_kept_by_their_thread_unless_told_otherwise(tmp_path):
    """The web's request threads are made once (drydock/asgi.py): a kept connection is reused by the next request."""
    sqlite = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    assert _database(sqlite).stdout.strip() == "600 None"
    assert _database({**sqlite, "DATABASE_CONN_MAX_AGE": "0"}).stdout.strip() == "0 None"


def test_postgresql_connections_come_from_a_pool_per_process_unless_told_otherwise():
    """A kept connection would be one per thread of every process, each opened cold: a pool lends them."""
    database = _database

    assert database({}).stdout.strip() == "0 {'min_size': 2, 'max_size': 8, 'timeout': 10}"
    assert database({"DATABASE_POOL_SIZE": "20", "DATABASE_POOL_TIMEOUT": "3"}).stdout.strip() == "0 {'min_size': 2, 'max_size': 20, 'timeout': 3}"
    assert database({"DATABASE_POOL_SIZE": "0", "DATABASE_CONN_MAX_AGE": "60"}).stdout.strip() == "60 None"
    both = database({"DATABASE_CONN_MAX_AGE": "60"})
    assert both.returncode != 0 and "set one of them to 0" in both.stderr


def _cli():
    import importlib.util

    spec = importlib.util.spec_from_file_location("drydock_cli", BASE_DIR / "bin" / "drydock.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def test_bin_drydock_up_runs_one_web_process_per_core_unless_web_concurrency_says_otherwise(monkeypatch):
    cli = _cli()
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    assert cli.web_concurrency() == os.cpu_count()
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert cli.web_concurrency() == 3
    for wrong in ("0", "two", "-1", "65"):
        monkeypatch.setenv("WEB_CONCURRENCY", wrong)
        with pytest.raises(cli.SetupError, match="WEB_CONCURRENCY"):
            cli.web_concurrency()
