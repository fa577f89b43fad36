"""A user's work outlives the server process: SIGKILL, restart, and carry on.

Real gunicorn servers on one DATA_PATH, each test on both database backends: SQLite under
DATA_PATH, and PostgreSQL (a throwaway server, see demo/testing/postgres.py; skipped where its
binaries are absent). The model runs on random micro weights. `model_runs` in /healthy tells which frames the model ran on in a process.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from demo.testing.client import DemoClient, GraphQLError, iter_parts

from .conftest import UPLOADS, ServerProcess

CLIP = "gallery/clip.mp4"  # 50 frames, 640x360
WORK = """query($s: String!) { work(sessionId: $s) { sessionId mode video { path }
  objects { objectId name color label } prompts { frameIndex objectId points labels box maskCounts } } }"""


@pytest.fixture()
def data_path(tmp_path, media_dir):
    (tmp_path / "gallery").mkdir()
    (tmp_path / "gallery" / "clip.mp4").write_bytes((UPLOADS / "quicktime_h264_640x360.mov").read_bytes())
    return tmp_path


@pytest.fixture()
def start(data_path, database_env):
    """start(name): a server on this test's DATA_PATH and database."""

    def start_server(name: str) -> ServerProcess:
        return ServerProcess(data_path, data_path / f"{name}.log", **database_env)

    return start_server


def track(client: DemoClient, sid: str, start_frame: int = 0, **extra) -> dict[tuple[int, int], str]:
    parts = list(iter_parts(client.propagate(sid, start_frame, **extra)))
    assert all("error" not in p.body for p in parts), parts[-1].body
    return {(p.body["frame_index"], r["object_id"]): r["mask"]["counts"] for p in parts for r in p.body["results"]}


def test_after_sigkill_the_work_is_there_and_a_click_runs_the_model_on_its_frame_only(start):
    server = start("first")
    client = DemoClient(server.url)
    sid = client.start_session(CLIP)
    client.add_points(sid, 0, 1, [[0.3, 0.4]], [1])
    client.add_points(sid, 0, 2, [[0.7, 0.6]], [1])
    client.add_points(sid, 0, 2, [[0.6, 0.5]], [0], clear_old_points=False)
    client.graphql(
        "mutation($i: UpdateObjectsInput!) { updateObjects(input: $i) { success } }",
        {"i": {"sessionId": sid, "objects": [{"objectId": 1, "name": "Bunny", "color": "#ff0000", "label": "animal"}]}},
    )
    tracked = track(client, sid, direction="forward", max_frames=20)
    assert len(tracked) == 40
    before = client.session_masks(sid)
    server.kill()

    server = start("second")
    try:
        client = DemoClient(server.url)
        assert server.healthy()["model_runs"] == {"calls": 0, "frames": []}
        assert client.session_masks(sid) == before  # served from the database: nothing tracked again
        work = client.graphql(WORK, {"s": sid})["work"]
        assert work["mode"] == "owner" and work["video"]["path"] == CLIP
        assert work["objects"] == [{"objectId": 1, "name": "Bunny", "color": "#ff0000", "label": "animal"}]
        prompts = {(p["objectId"], p["frameIndex"]): p for p in work["prompts"]}
        assert prompts[(2, 0)]["labels"] == [1, 0] and len(prompts[(2, 0)]["points"]) == 2

        # A refinement on a tracked frame: the model runs there and nowhere else.
        refined = client.add_points(sid, 12, 1, [[0.3, 0.4]], [0])
        assert refined["frameIndex"] == 12
        assert server.healthy()["model_runs"]["frames"] == [12]
        answer = {m["objectId"]: m["rleMask"]["counts"] for m in refined["rleMaskList"]}
        assert answer[2] == before[(12, 2)]  # the other object's mask there is the stored one

        # Tracking again replays the prompts it needs (frame 0) and tracks as asked.
        again = track(client, sid, 12, direction="forward", max_frames=5)
        assert {f for f, _ in again} == set(range(12, 17))
        assert set(server.healthy()["model_runs"]["frames"]) == {0, *range(12, 17)}
    finally:
        server.stop()

    # Every acknowledged change is there after a clean restart too, and closing is for good.
    server = start("third")
    try:
        client = DemoClient(server.url)
        masks = client.session_masks(sid)
        assert masks[(12, 1)] == answer[1] and masks[(16, 2)] == again[(16, 2)]
        assert client.close_session(sid) is True
        with pytest.raises(GraphQLError, match="Session expired: it was closed"):
            client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
    finally:
        server.stop()


def test_a_prompt_that_fails_is_not_kept(start):
    server = start("server")
    try:
        client = DemoClient(server.url)
        sid = client.start_session(CLIP)
        client.add_points(sid, 3, 1, [[0.5, 0.5]], [1])
        with pytest.raises(GraphQLError):
            client.add_points(sid, 999, 1, [[0.5, 0.5]], [1])  # refused before anything is written
        prompts = client.graphql(WORK, {"s": sid})["work"]["prompts"]
        assert [(p["objectId"], p["frameIndex"]) for p in prompts] == [(1, 3)]
    finally:
        server.stop()


def test_share_links_edit_view_and_revoke(start):
    server = start("server")
    try:
        owner = DemoClient(server.url, client_id="owner-browser")
        other = DemoClient(server.url, client_id="other-browser")
        sid = owner.start_session(CLIP)
        owner.add_points(sid, 4, 1, [[0.5, 0.5]], [1])
        make = "mutation($i: CreateShareLinkInput!) { createShareLink(input: $i) { token mode } }"
        view = owner.graphql(make, {"i": {"sessionId": sid, "mode": "view"}})["createShareLink"]
        edit = owner.graphql(make, {"i": {"sessionId": sid, "mode": "edit"}})["createShareLink"]
        assert view["mode"] == "view" and edit["token"] != view["token"] != sid

        opened = other.graphql(WORK, {"s": view["token"]})["work"]
        assert opened["mode"] == "view" and opened["sessionId"] == view["token"]
        assert other.session_masks(view["token"]) == owner.session_masks(sid)
        with pytest.raises(GraphQLError, match="view-only") as err:
            other.add_points(view["token"], 4, 1, [[0.2, 0.2]], [1])
        assert err.value.code == "READ_ONLY"
        with pytest.raises(GraphQLError, match="Only the owner"):
            other.graphql(make, {"i": {"sessionId": edit["token"], "mode": "edit"}})

        other.add_points(edit["token"], 6, 2, [[0.5, 0.5]], [1])  # an edit link edits the same work
        assert (6, 2) in owner.session_masks(sid)

        revoke = "mutation($i: RevokeShareLinkInput!) { revokeShareLink(input: $i) { success } }"
        assert owner.graphql(revoke, {"i": {"sessionId": sid, "token": edit["token"]}})["revokeShareLink"]["success"]
        with pytest.raises(GraphQLError, match="revoked"):
            other.add_points(edit["token"], 6, 2, [[0.4, 0.4]], [1])
        links = owner.graphql("query($s: String!) { shareLinks(sessionId: $s) { token mode } }", {"s": sid})
        assert links["shareLinks"] == [view]
    finally:
        server.stop()


def run_prompts_until_killed(start, seed: int, prompts: int = 200) -> tuple[int, int]:
    """Send prompts as fast as the server answers, SIGKILL it at a random moment, restart:
    (acknowledged, found) where every acknowledged prompt must be found."""
    rng = random.Random(seed)
    server = start(f"kill-{seed}")
    client = DemoClient(server.url, timeout=30)
    sid = client.start_session(CLIP)
    acknowledged: list[tuple[int, int, float]] = []

    def send() -> None:
        for i in range(prompts):
            frame, obj, x = i % 50, 1 + i % 3, round(rng.uniform(0.05, 0.95), 6)
            try:
                client.add_points(sid, frame, obj, [[x, 0.5]], [1], clear_old_points=False)
            except Exception:
                return  # the server is gone: this one was not acknowledged
            acknowledged.append((frame, obj, x))

    sender = threading.Thread(target=send)
    sender.start()
    threading.Event().wait(rng.uniform(0.5, 4.0))
    server.kill()
    sender.join(60)
    server = start(f"after-kill-{seed}")
    try:
        prompts_now = DemoClient(server.url).graphql(WORK, {"s": sid})["work"]["prompts"]
    finally:
        server.stop()
    stored = {(p["frameIndex"], p["objectId"], round(pt[0], 6)) for p in prompts_now for pt in p["points"]}
    return len(acknowledged), sum(1 for a in acknowledged if a in stored)


@pytest.mark.parametrize("seed", [1, 2])
def test_no_acknowledged_prompt_is_lost_on_sigkill(start, seed):
    acknowledged, found = run_prompts_until_killed(start, seed)
    assert acknowledged > 0 and found == acknowledged


def test_a_worker_notices_what_another_worker_changed(data_path, database_env):
    first = ServerProcess(data_path, data_path / "a.log", WORKER_NAME="a", **database_env)
    second = ServerProcess(data_path, data_path / "b.log", WORKER_NAME="b", **database_env)
    try:
        a, b = DemoClient(first.url), DemoClient(second.url)
        sid = a.start_session(CLIP)
        a.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
        b.add_points(sid, 7, 2, [[0.4, 0.4]], [1])  # b rebuilds it from the database, then adds
        # a's copy was out of date: refreshed (b's masks land a batch after its prompt)
        deadline = time.monotonic() + 5
        while set(a.session_masks(sid)) != {(0, 1), (7, 2)}:
            assert time.monotonic() < deadline, a.session_masks(sid)
            time.sleep(0.05)
        a.add_points(sid, 7, 2, [[0.6, 0.6]], [1], clear_old_points=False)
        prompts = a.graphql(WORK, {"s": sid})["work"]["prompts"]
        assert [p["points"] for p in prompts if p["objectId"] == 2] == [[[0.4, 0.4], [0.6, 0.6]]]
        assert b.close_session(sid) is True
        with pytest.raises(GraphQLError, match="it was closed"):
            a.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
    finally:
        first.stop()
        second.stop()


def test_a_removed_object_leaves_the_stored_names(start):
    server = start("server")
    try:
        client = DemoClient(server.url)
        sid = client.start_session(CLIP)
        client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
        named = [{"objectId": 1, "name": "Cup"}, {"objectId": 5, "name": "Not prompted yet"}]
        client.graphql(
            "mutation($i: UpdateObjectsInput!) { updateObjects(input: $i) { success } }",
            {"i": {"sessionId": sid, "objects": named}},
        )
        remove = "mutation($i: RemoveObjectInput!) { removeObject(input: $i) { frameIndex } }"
        for obj in (5, 1):
            client.graphql(remove, {"i": {"sessionId": sid, "objectId": obj}})
        assert client.graphql(WORK, {"s": sid})["work"]["objects"] == []
    finally:
        server.stop()


def test_an_objects_frame_range_outlives_a_restart(start):
    server = start("first")
    client = DemoClient(server.url)
    sid = client.start_session(CLIP)
    client.add_points(sid, 0, 1, [[0.3, 0.4]], [1])
    track(client, sid, direction="forward", max_frames=10)
    client.graphql(
        "mutation($i: UpdateObjectsInput!) { updateObjects(input: $i) { success } }",
        {"i": {"sessionId": sid, "objects": [{"objectId": 1, "name": "cat", "lastFrame": 4}]}},
    )
    server.kill()

    server = start("second")
    try:
        client = DemoClient(server.url)
        assert {f for f, _ in client.session_masks(sid)} == set(range(5))
        objects = client.graphql(
            "query($s: String!) { work(sessionId: $s) { objects { objectId firstFrame lastFrame } } }", {"s": sid}
        )["work"]["objects"]
        assert objects == [{"objectId": 1, "firstFrame": None, "lastFrame": 4}]
        # The rebuilt session keeps the range: tracking again brings nothing back after it.
        assert {f for f, _ in track(client, sid, direction="forward", max_frames=10)} == set(range(5))
        assert {f for f, _ in client.session_masks(sid)} == set(range(5))
    finally:
        server.stop()


def test_deleted_masks_stay_deleted_after_a_restart(start):
    server = start("first")
    client = DemoClient(server.url)
    sid = client.start_session(CLIP)
    client.add_points(sid, 0, 1, [[0.3, 0.4]], [1])
    client.add_points(sid, 3, 1, [[0.3, 0.5]], [1])
    track(client, sid, direction="forward", max_frames=10)
    client.graphql(
        "mutation($i: DeleteMasksInput!) { deleteMasks(input: $i) { deleted } }",
        {"i": {"sessionId": sid, "objectId": 1, "firstFrame": 2, "lastFrame": 5}},
    )
    server.kill()

    server = start("second")
    try:
        client = DemoClient(server.url)
        assert {f for f, _ in client.session_masks(sid)} == set(range(10)) - {2, 3, 4, 5}
        prompts = client.graphql(
            "query($s: String!) { work(sessionId: $s) { prompts { frameIndex objectId } } }", {"s": sid}
        )["work"]["prompts"]
        assert [(p["objectId"], p["frameIndex"]) for p in prompts] == [(1, 0)]
    finally:
        server.stop()
