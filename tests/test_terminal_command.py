"""The exec a browser terminal runs in the sandbox (no Docker needed)."""

import re

import pytest

from grader import engine
from tests.conftest import BASE_DIR


def test_each_terminal_number_has_its_own_tmux_session():
    assert engine.terminal_command(1)[-4:] == ["new-session", "-A", "-s", "drydock"]
    assert engine.terminal_command(2)[-1] == "drydock-2"
    for wrong in (0, engine.TERMINAL_SESSIONS + 1, "2", None):
        with pytest.raises(ValueError):
            engine.terminal_command(wrong)


def test_the_scrolling_keys_are_set_up_before_the_session_attaches():
    command = engine.terminal_command(1)
    assert command[:3] == ["tmux", "-f", "/etc/drydock/tmux.conf"]
    steps = " ".join(command)
    assert "assume-paste-time 0" in steps  # a turn of the wheel is not a paste
    for key in engine.TERMINAL_KEYS.values():
        assert key in command


def test_the_browser_sends_the_keys_tmux_binds():
    script = (BASE_DIR / "static" / "js" / "terminal.js").read_text(encoding="utf-8")
    sent = {name: value.encode().decode("unicode_escape") for name, value in re.findall(r'(\w+): "(\\x1b\[\d+(?:;\d+)?~)"', script)}
    assert sent["lineUp"] == engine.TERMINAL_KEYS["line-up"]
    assert sent["lineDown"] == engine.TERMINAL_KEYS["line-down"]
    assert sent["leaveHistory"] == engine.TERMINAL_KEYS["leave-history"]

