"""Several workers behind HAProxy, one PostgreSQL database: sessions stay on their worker, and
when a worker dies its sessions carry on on another one, rebuilt from the database.

Real processes: a throwaway PostgreSQL, two gunicorn workers (micro model, random weights, CPU)
and HAProxy configured by docker/haproxy.cfg (see demo/testing/haproxy.py). Skipped where
PostgreSQL or HAProxy is not installed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from demo.testing.client import DemoClient, iter_parts
from demo.testing.haproxy import LocalHAProxy, find_haproxy
from demo.testing.local_server import free_port

from .conftest import UPLOADS, ServerProcess

CLIP = "gallery/clip.mp4"  # 50 frames
WORK = "query($s: String!) { work(sessionId: $s) { prompts { frameIndex objectId points } } }"
OWN_FRAMES = range(30, 50)  # where the surviving worker's own users click: apart from the moved ones


@pytest.fixture()
def cluster(tmp_path, media_dir, postgres):
    if find_haproxy() is None:
        pytest.skip("HAProxy is not installed: apt-get install haproxy")
    (tmp_path / "gallery").mkdir()
    (tmp_path / "gallery" / "clip.mp4").write_bytes((UPLOADS / "quicktime_h264_640x360.mov").read_bytes())
    env = {"DATABASE_URL": postgres.create_database(), "TORCH_THREADS": "1", "MODEL_CONCURRENCY": "1"}
    ServerProcess(tmp_path, tmp_path / "posters.log", **env).stop()  # gallery posters and schema, once

    agent_ports = {"w1": free_port(), "w2": free_port()}

    def start(name: str) -> ServerProcess:
        return ServerProcess(tmp_path, tmp_path / f"{name}.log", WORKER_NAME=name, HOST="127.0.0.1",
                             LOAD_AGENT_PORT=str(agent_ports[name]), **env)  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        workers = dict(zip(("w1", "w2"), pool.map(start, ("w1", "w2")), strict=True))
    proxy = LocalHAProxy({name: w.port for name, w in workers.items()}, tmp_path / "haproxy.log",
                         agent_ports=agent_ports)  # fmt: skip
    yield proxy, workers
    proxy.stop()
    for worker in workers.values():
        worker.stop()


def click(client: DemoClient, sid: str, frame: int, obj: int, x: float) -> str:
    """One prompt; returns the worker that answered."""
    client.add_points(sid, frame, obj, [[x, 0.5]], [1], clear_old_points=False)
    return client.served_by


def test_sessions_stay_on_their_worker_and_survive_its_death(cluster):
    proxy, workers = cluster
    users = [DemoClient(proxy.url, timeout=60) for _ in range(6)]
    sessions = [u.start_session(CLIP) for u in users]
    home = [u.served_by for u in users]
    assert sorted(home) == ["w1"] * 3 + ["w2"] * 3  # new sessions: as much room on both

    # Every request of a session reaches the worker that opened it.
    for i, (user, sid) in enumerate(zip(users, sessions, strict=True)):
        frame = 0 if home[i] == "w1" else OWN_FRAMES[i]
        assert click(user, sid, frame, 1, 0.3) == home[i]
        assert click(user, sid, frame, 2, 0.6) == home[i]
    moving = [i for i in range(6) if home[i] == "w1"]
    staying = [i for i in range(6) if home[i] == "w2"]
    tracked = {}
    for i in moving:
        response = users[i].propagate(sessions[i], 0, direction="forward", max_frames=15)
        assert response.headers["X-Served-By"] == "w1"
        parts = [p.body for p in iter_parts(response)]
        tracked[i] = {(p["frame_index"], r["object_id"]) for p in parts for r in p["results"]}
        assert len(tracked[i]) == 30
    masks_before = {i: users[i].session_masks(sessions[i]) for i in moving}
    prompts_before = {i: users[i].graphql(WORK, {"s": sessions[i]})["work"]["prompts"] for i in moving}
    ran_before = {f for f in workers["w2"].healthy()["model_runs"]["frames"] if f not in OWN_FRAMES}
    assert ran_before == set()

    # w1 dies. The proxy takes it out within seconds; its users carry on on w2.
    workers["w1"].kill()
    killed = time.monotonic()
    for i in moving:  # at once, before the checks notice: a refused connection is redispatched
        assert click(users[i], sessions[i], 7, 1, 0.35) == "w2"
    for i in staying:  # the others do not notice
        assert click(users[i], sessions[i], OWN_FRAMES[i], 1, 0.4) == "w2"
    while not proxy.server_states()["w1"].startswith("DOWN"):
        assert time.monotonic() - killed < 5, proxy.server_states()
        time.sleep(0.1)
    marked_down = time.monotonic() - killed

    for i in moving:
        assert users[i].session_masks(sessions[i]).keys() >= masks_before[i].keys()
        prompts = users[i].graphql(WORK, {"s": sessions[i]})["work"]["prompts"]
        assert users[i].served_by == "w2"
        before = {(p["frameIndex"], p["objectId"]): p["points"] for p in prompts_before[i]}
        now = {(p["frameIndex"], p["objectId"]): p["points"] for p in prompts}
        assert all(now[key] == points for key, points in before.items())  # 0 lost prompts
        assert now[(7, 1)] == [[pytest.approx(0.35), 0.5]]
    # w2 ran the model on the clicked frame of the moved sessions only: no tracking again.
    ran = {f for f in workers["w2"].healthy()["model_runs"]["frames"] if f not in OWN_FRAMES}
    assert ran == {7}, f"marked down after {marked_down:.1f} s; w2 ran {sorted(ran)}"
    assert proxy.server_states()["w2"] == "UP"


def wait_for_weights(proxy: LocalHAProxy, expected: dict[str, int], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while proxy.weights() != expected:
        assert time.monotonic() < deadline, proxy.weights()
        time.sleep(0.1)


def test_new_sessions_go_where_the_workers_agents_report_room(cluster):
    proxy, workers = cluster
    wait_for_weights(proxy, {"w1": 100, "w2": 100})
    direct = DemoClient(workers["w1"].url)  # past the proxy: w1 fills up, w2 stays empty
    held = [direct.start_session(CLIP) for _ in range(4)]
    wait_for_weights(proxy, {"w1": 50, "w2": 100})  # MAX_SESSIONS 8: half of w1's room is left

    users = [DemoClient(proxy.url) for _ in range(3)]
    homes = []
    for user in users:
        user.start_session(CLIP)
        homes.append(user.served_by)
    assert homes.count("w2") >= 2, homes  # weighted by room: 100 against 50

    for sid in held:  # closed: the room comes back; the proxy's users keep theirs
        direct.close_session(sid)
    wait_for_weights(proxy, {name: round(100 * (8 - homes.count(name)) / 8) for name in ("w1", "w2")})
