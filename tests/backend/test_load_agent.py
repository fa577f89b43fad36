"""The load agent's answers, as HAProxy's agent check reads them (one line, then the socket closes)."""

from __future__ import annotations

import socket

from demo.backend.load_agent import LoadAgent, agent_reply


def test_reply_is_the_free_share_of_the_session_limit():
    assert agent_reply(0, 8, draining=False) == "ready 100%\n"
    assert agent_reply(3, 8, draining=False) == "ready 62%\n"
    assert agent_reply(4, 8, draining=False) == "ready 50%\n"
    assert agent_reply(8, 8, draining=False) == "ready 1%\n"  # full: the last choice, not out
    assert agent_reply(9, 8, draining=False) == "ready 1%\n"
    assert agent_reply(0, 8, draining=True) == "drain\n"  # shutting down: no new sessions at all


def ask(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        chunks = []
        while chunk := s.recv(1024):
            chunks.append(chunk)
        return b"".join(chunks)


def test_agent_answers_each_connection_with_the_current_reply_and_closes():
    held = [0]
    agent = LoadAgent("127.0.0.1", 0, lambda: agent_reply(held[0], 8, draining=False))
    try:
        assert ask(agent.port) == b"ready 100%\n"
        held[0] = 6
        assert ask(agent.port) == b"ready 25%\n"
    finally:
        agent.close()
    try:
        socket.create_connection(("127.0.0.1", agent.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    assert refused


def test_a_failing_count_leaves_the_agent_answering_the_next_check():
    replies = iter([RuntimeError("boom"), "ready 75%\n"])

    def reply() -> str:
        item = next(replies)
        if isinstance(item, Exception):
            raise item
        return item

    agent = LoadAgent("127.0.0.1", 0, reply)
    try:
        assert ask(agent.port) == b""  # closed without a word: HAProxy keeps the last weight
        assert ask(agent.port) == b"ready 75%\n"
    finally:
        agent.close()
