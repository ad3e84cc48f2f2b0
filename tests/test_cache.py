"""Sessions are read through Redis, with one Redis client per process whatever the thread or request."""

import threading

import pytest
from django.contrib.sessions.backends.cached_db import SessionStore
from django.core.cache import caches


def test_every_thread_reads_the_sessions_cache_through_the_same_redis_client():
    clients = []

    def read():
        clients.append(caches["sessions"]._cache.get_client())

    threads = [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read()
    assert len({id(client) for client in clients}) == 1


def test_healthz_and_metrics_talk_to_redis_through_one_client_per_process_and_url(settings):
    from drydock.cache import redis_client

    first = redis_client(settings.REDIS_URL)
    assert redis_client(settings.REDIS_URL) is first
    assert redis_client(settings.REDIS_URL + "?db=2") is not first


@pytest.mark.django_db
def test_a_session_is_read_from_redis_and_again_from_its_row_once_redis_lost_it(django_assert_num_queries):
    session = SessionStore()
    session["note"] = "kept"
    session.create()
    with django_assert_num_queries(0):
        assert SessionStore(session.session_key)["note"] == "kept"
    caches["sessions"].delete(session.cache_key)
    with django_assert_num_queries(1):
        assert SessionStore(session.session_key)["note"] == "kept"
    session.delete()
    assert SessionStore(session.session_key).get("note") is None
