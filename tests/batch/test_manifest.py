"""The manifest: typed parsing, one clear error per bad line, and agreement with the JSON Schema."""

import json

import pytest

from sam2.batch.manifest import SCHEMA_PATH, Everything, ManifestError, Prompt, parse_line, read_manifest

GOOD = [
    {"video": "clips/a.mp4", "objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[10, 20.5]], "labels": [1]}]}]},
    {"video": "https://example.org/v/b.mp4?sig=1", "id": "b-2", "objects": [
        {"id": 3, "prompts": [{"frame": 4, "box": [1, 2, 30, 40]}, {"frame": 9, "points": [[5, 5], [6, 6]],
                                                                      "labels": [1, 0], "box": [0, 0, 9, 9]}]},
        {"id": 0, "prompts": [{"frame": 2, "mask": {"size": [2, 3], "counts": [1, 4, 1]}}]}]},
    {"video": "frames/c", "everything": {"frame": 3, "points_per_side": 8, "pred_iou_thresh": 0.5, "max_objects": 4}},
    {"video": "d.mov", "objects": [{"id": 1, "prompts": [{"frame": 0, "mask": {"size": [2, 2], "counts": "0111"}}]}],
     "everything": {"frame": 0}},
]  # fmt: skip

BAD = [  # (line, the error's words after "line 1: ")
    ('{"video": "a.mp4", ', "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ({"objects": []}, "video is required"),
    ({"video": "a.mp4"}, 'needs "objects" or "everything"'),
    ({"video": "a.mp4", "objects": [], "extra": 1}, "extra is not a known field"),
    ({"video": "a.mp4", "id": "../up", "everything": {"frame": 0}}, "id must be 1-128 letters"),
    ({"video": "a.mp4", "objects": [{"id": 1, "prompts": []}]}, "objects[0].prompts must be a non-empty list"),
    ({"video": "a.mp4", "objects": [{"id": -1, "prompts": [{"frame": 0, "box": [0, 0, 1, 1]}]}]},
     "objects[0].id is required: an integer >= 0"),
    ({"video": "a.mp4", "objects": [{"id": 1, "prompts": [{"frame": 0, "box": [0, 0, 1, 1]}]},
                                    {"id": 1, "prompts": [{"frame": 0, "box": [0, 0, 1, 1]}]}]},
     "objects[1].id 1 repeats an earlier object's id"),
    ({"video": "a.mp4", "objects": [{"id": 1, "prompts": [{"box": [0, 0, 1, 1]}]}]},
     "objects[0].prompts[0].frame is required"),
    ({"video": "a.mp4", "objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[1, 2]], "labels": [2]}]}]},
     "objects[0].prompts[0].labels must be a list of 1 labels"),
    ({"video": "a.mp4", "objects": [{"id": 1, "prompts": [{"frame": 0, "box": [0, 0, 1]}]}]},
     "objects[0].prompts[0].box must be [x0, y0, x1, y1]"),
    ({"video": "a.mp4", "objects": [{"id": 1, "prompts": [{"frame": 0}]}]}, 'objects[0].prompts[0] needs "points"'),
    ({"video": "a.mp4", "objects": [{"id": 1, "prompts": [{"frame": 0, "box": [0, 0, 1, 1],
                                                           "mask": {"size": [1, 1], "counts": [1]}}]}]},
     "gives a mask together with points or a box"),
    ({"video": "a.mp4", "objects": [{"id": 1, "prompts": [{"frame": 0, "mask": {"size": [2, 2], "counts": [1]}}]}]},
     "objects[0].prompts[0].mask is not a valid RLE"),
    ({"video": "a.mp4", "everything": {"frame": 0, "points_per_side": 2.5}},
     "everything.points_per_side must be an integer >= 0"),
    ({"video": "a.mp4", "everything": {"frame": 0, "min_area": 0}}, "everything.min_area must be an integer >= 1"),
    ({"video": "a.mp4", "everything": {"frame": 0, "crop_overlap": 1}}, "everything.crop_overlap is not a known field"),
]  # fmt: skip


def as_text(line) -> str:
    return line if isinstance(line, str) else json.dumps(line)


def test_good_lines_become_typed_jobs():
    jobs = [parse_line(as_text(line), n) for n, line in enumerate(GOOD, start=1)]
    assert [j.video_id for j in jobs] == ["a", "b-2", "c", "d"]  # default: the file name's stem
    assert jobs[0].objects[0].prompts == (Prompt(0, points=((10.0, 20.5),), labels=(1,)),)
    both = jobs[1].objects[0].prompts[1]
    assert both.box == (0.0, 0.0, 9.0, 9.0) and both.labels == (1, 0)
    assert jobs[1].objects[1].prompts[0].mask == {"size": [2, 3], "counts": [1, 4, 1]}
    assert jobs[2].everything == Everything(3, {"points_per_side": 8, "pred_iou_thresh": 0.5}, 100, 4)
    assert jobs[3].objects and jobs[3].everything == Everything(0)


@pytest.mark.parametrize("line, message", BAD, ids=[m for _, m in BAD])
def test_each_bad_line_gets_one_clear_error(line, message):
    with pytest.raises(ManifestError) as info:
        parse_line(as_text(line), 7)
    assert str(info.value).startswith("line 7: ") and message in str(info.value)


def test_reading_a_manifest_reports_bad_lines_in_place_and_repeated_ids(tmp_path):
    path = tmp_path / "m.jsonl"
    lines = [GOOD[0], "not json", "", GOOD[2], {**GOOD[2], "video": "other/c.mp4"}]
    path.write_text("\n".join(as_text(x) for x in lines) + "\n")
    items = list(read_manifest(str(path)))
    assert [type(i).__name__ for i in items] == ["VideoJob", "ManifestError", "VideoJob", "ManifestError"]
    assert items[1].line == 2 and items[2].line == 4
    assert str(items[3]) == "line 5: id 'c' is already used by line 4: give this line its own \"id\""


def test_the_json_schema_agrees_with_the_parser():
    jsonschema = pytest.importorskip("jsonschema")
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for line in GOOD:
        validator.validate(line)
    # What a schema can say (types, fields, required, ranges) it rejects as the parser does;
    # the parser alone checks what needs arithmetic (RLE sums, box corners, repeated ids).
    parser_only = ("repeats an earlier", "box must be", "is not a valid RLE")
    for line, message in BAD:
        if isinstance(line, dict) and not any(p in message for p in parser_only):
            assert not validator.is_valid(line), message
