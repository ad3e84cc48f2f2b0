"""The tests' own servers and workers end with the run that started them, even a run SIGKILLed (a CI time limit):
left behind, a Celery worker would take the next run's tasks on the same Redis database."""

import os
import signal
import subprocess
import sys
import textwrap

from tests.conftest import BASE_DIR, wait_until


def test_a_child_started_by_a_run_ends_when_the_run_is_killed(tmp_path):
    pid_file = tmp_path / "child.pid"
    run = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import subprocess, sys, time
        sys.path.insert(0, {str(BASE_DIR)!r})
        import django
        django.setup()
        from tests.conftest import ended_with_this_process
        child = subprocess.Popen(["sleep", "120"], start_new_session=True, preexec_fn=ended_with_this_process())
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(120)
    """)], cwd=BASE_DIR, env={**os.environ, "DJANGO_SETTINGS_MODULE": "drydock.settings"})
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), 30, message="the run's child")
        child = int(pid_file.read_text())
        assert os.path.exists(f"/proc/{child}")
        run.send_signal(signal.SIGKILL)
        run.wait()
        # A zombie until init reaps it: gone or dead is what matters.
        wait_until(lambda: not os.path.exists(f"/proc/{child}") or "State:\tZ" in open(f"/proc/{child}/status").read(), 10,
                   message="the child to end with its run")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
