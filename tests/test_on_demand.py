"""images/sandbox/on-demand.c, compiled here with the machine's gcc: socket activation as dockerd -H fd:// takes it.

The program it becomes is a small Python server: it reports its pid, LISTEN_FDS and LISTEN_PID, then answers on
each descriptor it was given, the connection that woke it first.
"""

import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "images" / "sandbox" / "on-demand.c"
SERVER = r"""
import os, socket, sys
fds = int(os.environ["LISTEN_FDS"])
print(os.getpid(), os.environ["LISTEN_FDS"], os.environ["LISTEN_PID"], flush=True)
listeners = [socket.socket(fileno=3 + n) for n in range(fds)]
for listener in listeners:
    conn, _ = listener.accept()
    conn.sendall(b"answered on fd %d" % listener.fileno())
    conn.close()
"""


@pytest.fixture(scope="module")
def on_demand(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build images/sandbox/on-demand.c (bin/drydock setup installs it)")
    binary = tmp_path_factory.mktemp("on-demand") / "drydock-on-demand"
    subprocess.run(["gcc", "-Os", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(SOURCE)], check=True, capture_output=True)
    return binary


def wait_for(path, seconds=5):
    deadline = time.monotonic() + seconds
    while not os.path.lexists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_it_listens_marks_then_becomes_the_program_at_the_first_connection_with_the_sockets_as_fds_3_and_4(on_demand, tmp_path):
    mark, first, second = tmp_path / "listening", tmp_path / "docker.sock", tmp_path / "second.sock"
    first.write_text("an old socket's file")  # a restarted sandbox's, removed first
    process = subprocess.Popen([str(on_demand), str(mark), str(first), str(second), "--", sys.executable, "-c", SERVER],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(mark)
        time.sleep(0.3)
        # Still itself, waiting: the program is not run before a client comes.
        assert process.poll() is None and os.readlink(f"/proc/{process.pid}/exe") == str(on_demand)
        client = socket.socket(socket.AF_UNIX)
        client.connect(str(first))
        # The peer a connection names is the pid that listened: the one the program runs as.
        peer_pid = struct.unpack("3i", client.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
        pid, fds, listen_pid = process.stdout.readline().split()
        assert int(pid) == process.pid == int(listen_pid) == peer_pid and fds == "2"
        assert client.recv(100) == b"answered on fd 3"
        other = socket.socket(socket.AF_UNIX)
        other.connect(str(second))
        assert other.recv(100) == b"answered on fd 4"
        assert process.wait(5) == 0
        assert oct(first.stat().st_mode & 0o777) == "0o660"
    finally:
        process.kill()
        process.wait()


def test_it_refuses_a_command_line_without_sockets_or_program(on_demand, tmp_path):
    for args in ([str(tmp_path / "mark"), "--", "true"], [str(tmp_path / "mark"), str(tmp_path / "s.sock"), "--"], [str(tmp_path / "mark")]):
        refused = subprocess.run([str(on_demand), *args], capture_output=True, text=True, timeout=5)
        assert refused.returncode == 2 and "usage: drydock-on-demand MARK SOCKET... -- PROGRAM" in refused.stderr


def test_a_socket_it_cannot_make_is_named(on_demand, tmp_path):
    refused = subprocess.run([str(on_demand), str(tmp_path / "mark"), str(tmp_path / "no-such-folder" / "docker.sock"), "--", "true"],
                             capture_output=True, text=True, timeout=5)
    assert refused.returncode == 1 and f"cannot bind {tmp_path}/no-such-folder/docker.sock" in refused.stderr
    assert not (tmp_path / "mark").exists()
