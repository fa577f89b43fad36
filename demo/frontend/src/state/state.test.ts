import { describe, expect, it } from 'vitest';
import { addObject, emptyObjects, findObject, ObjectLimitError, OBJECT_PALETTE, recolorObject, removeObject, renameObject, selectObject } from './objects';
import {
  addPoint, allPrompts, clearFrame, diffPrompts, emptyPrompts, findPointNear, forgetObject, getPrompt, promptedFrames, promptedObjects,
  removePoint, setBox, setMask, toRequest,
} from './prompts';
import { MaskStore } from './masks';
import { finishProgress, formatRate, framesPerSecond, idleProgress, onFrameReceived, percent, runFramesPerSecond, secondsLeft, startProgress, formatDuration } from './tracking';
import { framesCovered, planTracking, staleRangesAfterEdit } from './trackPlan';
import { popStep, pushStep } from './history';

describe('objects', () => {
  it('adds objects with ids, names and colours, selecting the new one', () => {
    let s = addObject(emptyObjects, 16);
    s = addObject(s, 16);
    expect(s.objects.map((o) => [o.id, o.name])).toEqual([[1, 'Object 1'], [2, 'Object 2']]);
    expect(s.objects[0].color).not.toBe(s.objects[1].color);
    expect(s.selectedId).toBe(2);
  });

  it('enforces the server limit, also above 3', () => {
    let s = emptyObjects;
    for (let i = 0; i < 20; i++) s = addObject(s, 20);
    expect(s.objects).toHaveLength(20);
    expect(s.objects[16].color).toBe(OBJECT_PALETTE[0]);
    expect(() => addObject(s, 20)).toThrow(ObjectLimitError);
    expect(() => addObject(s, 20)).toThrow(/at most 20 objects/);
  });

  it('renames, recolours, selects and removes', () => {
    let s = addObject(addObject(addObject(emptyObjects, 16), 16), 16);
    s = renameObject(s, 2, '  dog  ');
    expect(findObject(s, 2)?.name).toBe('dog');
    s = renameObject(s, 2, '   ');
    expect(findObject(s, 2)?.name).toBe('Object 2');
    s = recolorObject(s, 1, '#00ff00');
    expect(findObject(s, 1)?.color).toBe('#00ff00');
    expect(recolorObject(s, 1, 'red')).toBe(s);
    s = selectObject(s, 2);
    expect(selectObject(s, 99)).toBe(s);
    s = removeObject(s, 2);
    expect(s.objects.map((o) => o.id)).toEqual([1, 3]);
    expect(s.selectedId).toBe(3);
    s = removeObject(removeObject(s, 3), 1);
    expect(s.selectedId).toBeNull();
    // Ids are never reused after a removal.
    expect(addObject(s, 16).objects[0].id).toBe(4);
  });
});

describe('prompts', () => {
  it('keeps the whole prompt set per object and frame', () => {
    let [s, edit] = addPoint(emptyPrompts, 1, 5, { x: 0.2, y: 0.3, label: 1 });
    expect(edit).toEqual({ objectId: 1, frameIndex: 5, prompt: { points: [{ x: 0.2, y: 0.3, label: 1 }], box: null } });
    [s, edit] = addPoint(s, 1, 5, { x: 1.4, y: -0.1, label: 0 });
    expect(edit.prompt.points).toEqual([{ x: 0.2, y: 0.3, label: 1 }, { x: 1, y: 0, label: 0 }]);
    [s] = addPoint(s, 2, 5, { x: 0.5, y: 0.5, label: 1 });
    [s] = addPoint(s, 1, 9, { x: 0.5, y: 0.5, label: 1 });
    expect(getPrompt(s, 1, 5).points).toHaveLength(2);
    expect(getPrompt(s, 3, 5)).toEqual({ points: [], box: null });
    expect(promptedFrames(s)).toEqual([5, 9]);
    expect(promptedFrames(s, 2)).toEqual([5]);
    expect(promptedObjects(s)).toEqual([1, 2]);
  });

  it('finds and removes the point under the cursor', () => {
    let [s] = addPoint(emptyPrompts, 1, 0, { x: 0.5, y: 0.5, label: 1 });
    [s] = addPoint(s, 1, 0, { x: 0.52, y: 0.5, label: 0 });
    const p = getPrompt(s, 1, 0);
    expect(findPointNear(p, 0.515, 0.5, 0.01, 0.02)).toBe(1);
    expect(findPointNear(p, 0.7, 0.5, 0.01, 0.02)).toBe(-1);
    const [s2, edit] = removePoint(s, 1, 0, 1);
    expect(edit.prompt.points).toEqual([{ x: 0.5, y: 0.5, label: 1 }]);
    const [s3, edit2] = removePoint(s2, 1, 0, 0);
    expect(edit2.prompt).toEqual({ points: [], box: null });
    expect(promptedFrames(s3)).toEqual([]);
    expect(() => removePoint(s3, 1, 0, 0)).toThrow(RangeError);
  });

  it('sorts and clamps boxes and replaces an earlier one', () => {
    let [s, edit] = setBox(emptyPrompts, 2, 3, { x0: 0.8, y0: 0.9, x1: 0.1, y1: -0.2 });
    expect(edit.prompt.box).toEqual({ x0: 0.1, y0: 0, x1: 0.8, y1: 0.9 });
    [s, edit] = setBox(s, 2, 3, { x0: 0.1, y0: 0.1, x1: 0.2, y1: 0.2 });
    expect(edit.prompt.box).toEqual({ x0: 0.1, y0: 0.1, x1: 0.2, y1: 0.2 });
    expect(getPrompt(s, 2, 3).box).toEqual(edit.prompt.box);
  });

  it('diffs two prompt states into the edits that turn one into the other', () => {
    let [s] = addPoint(emptyPrompts, 1, 0, { x: 0.1, y: 0.1, label: 1 });
    const before = s;
    [s] = setBox(s, 1, 0, { x0: 0, y0: 0, x1: 0.5, y1: 0.5 });
    [s] = addPoint(s, 2, 4, { x: 0.3, y: 0.3, label: 1 });
    const back = diffPrompts(s, before);
    expect(back).toEqual([
      { objectId: 1, frameIndex: 0, prompt: { points: [{ x: 0.1, y: 0.1, label: 1 }], box: null } },
      { objectId: 2, frameIndex: 4, prompt: { points: [], box: null } },
    ]);
    expect(allPrompts(s).map((e) => [e.objectId, e.frameIndex])).toEqual([[1, 0], [2, 4]]);
    [s] = clearFrame(s, 1, 0);
    expect(promptedFrames(s, 1)).toEqual([]);
  });

  it('forgets an object', () => {
    let [s] = addPoint(emptyPrompts, 1, 0, { x: 0.1, y: 0.1, label: 1 });
    [s] = addPoint(s, 2, 0, { x: 0.1, y: 0.1, label: 1 });
    s = forgetObject(s, 1);
    expect(promptedObjects(s)).toEqual([2]);
  });

  it('keeps one bounded undo history', () => {
    const work = { objects: emptyObjects, prompts: emptyPrompts };
    let h = pushStep([], { label: 'a', before: work, droppedMasks: [] });
    h = pushStep(h, { label: 'b', before: work, droppedMasks: [] });
    const [step, rest] = popStep(h)!;
    expect(step.label).toBe('b');
    expect(rest).toHaveLength(1);
    expect(popStep([])).toBeNull();
    for (let i = 0; i < 300; i++) h = pushStep(h, { label: String(i), before: work, droppedMasks: [] });
    expect(h.length).toBe(200);
  });

  it('maps prompt sets to server requests', () => {
    expect(toRequest({ points: [], box: null })).toEqual({ kind: 'clear' });
    expect(toRequest({ points: [{ x: 0.1, y: 0.2, label: 0 }], box: null })).toEqual({ kind: 'points', points: [[0.1, 0.2]], labels: [0] });
    const box = { x0: 0, y0: 0, x1: 1, y1: 1 };
    expect(toRequest({ points: [], box })).toEqual({ kind: 'box', box, points: [], labels: [] });
  });

  it('takes a whole mask as a frame prompt: counted, refined by clicks, cleared and undone like the others', () => {
    const mask = { size: [4, 6] as [number, number], counts: '05' };
    const [withMask, edit] = setMask(emptyPrompts, 3, 7, mask);
    expect(edit).toEqual({ objectId: 3, frameIndex: 7, prompt: { points: [], box: null, mask } });
    expect(promptedObjects(withMask)).toEqual([3]);
    expect(promptedFrames(withMask, 3)).toEqual([7]);
    // A click on that frame keeps the mask (it is sent first, the click refines it).
    const [refined] = addPoint(withMask, 3, 7, { x: 0.5, y: 0.5, label: 0 });
    expect(getPrompt(refined, 3, 7).mask).toBe(mask);
    // Clearing the frame drops the mask too; undoing a keep removes the object's prompt set.
    expect(promptedObjects(clearFrame(refined, 3, 7)[0])).toEqual([]);
    expect(diffPrompts(withMask, emptyPrompts)).toEqual([{ objectId: 3, frameIndex: 7, prompt: { points: [], box: null } }]);
    expect(allPrompts(refined)[0].prompt.mask).toBe(mask);
  });
});

describe('MaskStore', () => {
  const m = (c: string) => ({ size: [2, 2] as [number, number], counts: c });
  it('stores, replaces and removes masks with a version bump each time', () => {
    const store = new MaskStore();
    store.setFrame(3, [{ objectId: 1, rleMask: m('04') }, { objectId: 2, rleMask: m('4') }]);
    store.setFrame(0, [{ objectId: 1, rleMask: m('4') }]);
    expect(store.frameIndices()).toEqual([0, 3]);
    expect(store.size).toBe(3);
    const v = store.version;
    store.setFrame(3, [{ objectId: 2, rleMask: m('13') }]);
    expect([...store.frame(3).keys()]).toEqual([2]);
    store.setFrame(3, [{ objectId: 1, rleMask: m('04') }], false);
    expect([...store.frame(3).keys()].sort()).toEqual([1, 2]);
    store.removeObject(1);
    expect(store.get(0, 1)).toBeUndefined();
    expect(store.frameIndices()).toEqual([3]);
    expect(store.version).toBeGreaterThan(v);
    store.clear();
    expect(store.size).toBe(0);
    expect(store.frame(3).size).toBe(0);
  });
});

describe('stale masks and the tracking plan', () => {
  const m = { size: [2, 2] as [number, number], counts: '13' };
  it('marks, restores and reports stale masks', () => {
    const store = new MaskStore();
    for (let f = 0; f < 5; f++) store.setFrame(f, [{ objectId: 1, rleMask: m }, { objectId: 2, rleMask: m }]);
    store.markStale(1, 3, 4);
    expect([store.isStale(2, 1), store.isStale(3, 1), store.isStale(3, 2)]).toEqual([false, true, false]);
    expect(Array.from(store.laneOf(1, 6))).toEqual([1, 1, 1, 2, 2, 0]);
    expect(store.staleFrames()).toEqual({ 1: [3, 4] });
    store.setFrame(3, [{ objectId: 1, rleMask: m }, { objectId: 2, rleMask: m }]);
    expect(store.isFresh(3, 1)).toBe(true);
    const kept = store.objectMasks(2);
    store.removeObject(2);
    expect(store.hasPixels(2)).toBe(false);
    store.restore(kept);
    expect(store.hasPixels(2)).toBe(true);
    expect(store.isStale(0, 2)).toBe(true);
  });

  it('marks what a prompt change can affect', () => {
    // A correction on frame 30 of 50 of an object prompted on frame 0: frames 31..49.
    expect(staleRangesAfterEdit(50, 30, [0])).toEqual([[31, 49]]);
    // A new earliest prompt also affects the frames before it.
    expect(staleRangesAfterEdit(50, 30, [40])).toEqual([[31, 49], [0, 29]]);
    expect(staleRangesAfterEdit(50, 0, [])).toEqual([[1, 49]]);
  });

  it('tracks only the frames that need it, in the directions they need', () => {
    const none = () => false;
    expect(planTracking(50, new Map([[1, [0]]]), none)).toEqual([]);
    // Nothing tracked yet, first prompt on frame 10: both directions from 10 (frame 10 is sent once: 50 frames).
    expect(planTracking(50, new Map([[1, [10]]]), (_o, f) => f !== 10)).toEqual([{ start: 10, direction: 'both', frames: 50 }]);
    // Correction on frame 30: forward from 30 only (20 frames).
    expect(planTracking(50, new Map([[1, [0, 30]]]), (_o, f) => f > 30)).toEqual([{ start: 30, direction: 'forward', frames: 20 }]);
    // A second object first prompted on frame 20, after the first was tracked everywhere.
    const plan = planTracking(50, new Map([[1, [0]], [2, [20]]]), (o, f) => o === 2 && f !== 20);
    expect(plan).toEqual([{ start: 20, direction: 'both', frames: 50 }]);
    // Refined on 10, cancelled when frame 25 had come: Track goes on from 26, not from 10 again.
    expect(planTracking(50, new Map([[1, [0, 10]]]), (_o, f) => f > 25)).toEqual([{ start: 26, direction: 'forward', frames: 24 }]);
    // Refined on 10, nothing tracked after it yet: from the refined frame.
    expect(planTracking(50, new Map([[1, [0, 10]]]), (_o, f) => f > 10)).toEqual([{ start: 10, direction: 'forward', frames: 40 }]);
    // Forward and backward needs from different frames: two passes.
    expect(planTracking(50, new Map([[1, [0, 30]], [2, [5]]]), (o, f) => (o === 1 ? f > 30 : f < 5))).toEqual([
      { start: 30, direction: 'forward', frames: 20 },
      { start: 5, direction: 'backward', frames: 6 },
    ]);
  });
});

describe('frame totals', () => {
  it('never counts more frames than the video has', () => {
    // The clip: 132 frames, both ways from 60 was "133 / 133".
    const both = planTracking(132, new Map([[1, [60]]]), (_o, f) => f !== 60);
    expect(both[0].frames).toBe(132);
    expect(framesCovered(132, both)).toBe(132);
    // Overlapping passes (forward from 60, backward from 120) on 180 frames: 180, not 241.
    const passes = [
      { start: 60, direction: 'forward' as const, frames: 120 },
      { start: 120, direction: 'backward' as const, frames: 121 },
    ];
    expect(framesCovered(180, passes)).toBe(180);
    expect(framesCovered(50, [{ start: 30, direction: 'forward', frames: 20 }, { start: 5, direction: 'backward', frames: 6 }])).toBe(26);
  });

  it('counts a frame sent twice once, and reports the whole run\'s rate', () => {
    let p = startProgress(3, 0);
    p = onFrameReceived(p, 5, 1000);
    p = onFrameReceived(p, 5, 1100, false);
    p = onFrameReceived(p, 6, 1200);
    expect(p.done).toBe(2);
    // 4 frames in 2 s, the last two fast: the run did 2 frames/s, the latest ones 10.
    p = onFrameReceived(p, 7, 1900);
    p = onFrameReceived(p, 8, 2000);
    p = finishProgress(p, 'done', 2000);
    expect(framesPerSecond(p)).toBeGreaterThan(3);
    expect(runFramesPerSecond(p)).toBeCloseTo(2);
  });
});

describe('tracking progress', () => {
  it('counts frames, measures the rate from the second frame, ends at 100%', () => {
    let p = startProgress(50, 1000);
    expect(p.total).toBe(50);
    expect(percent(p)).toBe(0);
    expect(secondsLeft(p)).toBeNull();
    // A slow first frame (start-up) must not drag the rate down.
    p = onFrameReceived(p, 0, 9000);
    expect(framesPerSecond(p)).toBe(0);
    p = onFrameReceived(p, 1, 9100);
    expect(framesPerSecond(p)).toBeCloseTo(10);
    for (let i = 2; i < 10; i++) p = onFrameReceived(p, i, 9000 + i * 100);
    expect(p.done).toBe(10);
    expect(percent(p)).toBe(20);
    expect(framesPerSecond(p)).toBeCloseTo(10);
    expect(secondsLeft(p)).toBeCloseTo(4);
    // The rate follows a slow-down within the window.
    for (let i = 10; i < 20; i++) p = onFrameReceived(p, i, 9900 + (i - 9) * 1000);
    expect(framesPerSecond(p)).toBeCloseTo(1);
    expect(secondsLeft(p)).toBeCloseTo(30);
    p = finishProgress(p, 'done', 50000);
    expect(percent(p)).toBe(100);
    expect(secondsLeft(p)).toBeNull();
  });

  it('keeps partial counts on cancel and error', () => {
    let p = onFrameReceived(startProgress(10, 0), 0, 5);
    p = finishProgress(p, 'cancelled', 6);
    expect([p.status, p.done, p.total]).toEqual(['cancelled', 1, 10]);
    const e = finishProgress(p, 'error', 7, 'boom');
    expect(e.error).toBe('boom');
    expect(percent(idleProgress)).toBe(0);
  });

  it('formats durations and slow rates', () => {
    expect(formatDuration(5.4)).toBe('5s');
    expect(formatDuration(125)).toBe('2m 05s');
    expect(formatDuration(3 * 3600 + 120)).toBe('3h 02m');
    expect(formatRate(0.04)).toBe('2.4 frames/min');
    expect(formatRate(2.345)).toBe('2.3 frames/s');
    expect(formatRate(25.4)).toBe('25 frames/s');
  });
});
