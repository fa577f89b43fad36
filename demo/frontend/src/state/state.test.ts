import { describe, expect, it } from 'vitest';
import { addObject, emptyObjects, findObject, ObjectLimitError, OBJECT_PALETTE, recolorObject, removeObject, renameObject, selectObject } from './objects';
import {
  addPoint, clearFrame, emptyPrompts, findPointNear, forgetObject, getPrompt, promptedFrames, promptedObjects,
  removePoint, setBox, toRequest, undo,
} from './prompts';
import { MaskStore } from './masks';
import { finishProgress, framesPerSecond, idleProgress, onFrameReceived, percent, secondsLeft, startProgress, formatDuration } from './tracking';

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

  it('undoes edits in reverse order, returning what to resend', () => {
    let [s] = addPoint(emptyPrompts, 1, 0, { x: 0.1, y: 0.1, label: 1 });
    [s] = setBox(s, 1, 0, { x0: 0, y0: 0, x1: 0.5, y1: 0.5 });
    [s] = clearFrame(s, 1, 0);
    let r = undo(s)!;
    expect(r[1].prompt.box).not.toBeNull();
    r = undo(r[0])!;
    expect(r[1]).toEqual({ objectId: 1, frameIndex: 0, prompt: { points: [{ x: 0.1, y: 0.1, label: 1 }], box: null } });
    r = undo(r[0])!;
    expect(r[1].prompt).toEqual({ points: [], box: null });
    expect(promptedFrames(r[0])).toEqual([]);
    expect(undo(r[0])).toBeNull();
  });

  it('forgets an object with its undo steps', () => {
    let [s] = addPoint(emptyPrompts, 1, 0, { x: 0.1, y: 0.1, label: 1 });
    [s] = addPoint(s, 2, 0, { x: 0.1, y: 0.1, label: 1 });
    s = forgetObject(s, 1);
    expect(promptedObjects(s)).toEqual([2]);
    expect(undo(s)![1].objectId).toBe(2);
  });

  it('maps prompt sets to server requests', () => {
    expect(toRequest({ points: [], box: null })).toEqual({ kind: 'clear' });
    expect(toRequest({ points: [{ x: 0.1, y: 0.2, label: 0 }], box: null })).toEqual({ kind: 'points', points: [[0.1, 0.2]], labels: [0] });
    const box = { x0: 0, y0: 0, x1: 1, y1: 1 };
    expect(toRequest({ points: [], box })).toEqual({ kind: 'box', box, points: [], labels: [] });
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

describe('tracking progress', () => {
  it('counts frames, rate and time left, and ends at 100%', () => {
    let p = startProgress(50, 0, 1000);
    expect(p.total).toBe(50);
    expect(percent(p)).toBe(0);
    expect(secondsLeft(p)).toBeNull();
    for (let i = 0; i < 10; i++) p = onFrameReceived(p, i, 1000 + (i + 1) * 100);
    expect(p.done).toBe(10);
    expect(percent(p)).toBe(20);
    expect(framesPerSecond(p)).toBeCloseTo(10);
    expect(secondsLeft(p)).toBeCloseTo(4);
    p = finishProgress(p, 'done', 5000);
    expect(percent(p)).toBe(100);
    expect(secondsLeft(p)).toBeNull();
  });

  it('prefers the server headers', () => {
    let p = startProgress(50, 20, 0);
    expect(p.total).toBe(51);
    p = onFrameReceived(p, 20, 10, 1, 51);
    p = onFrameReceived(p, 21, 20, 2, 51);
    expect([p.done, p.total, p.lastFrameIndex]).toEqual([2, 51, 21]);
    expect(percent(p)).toBe(3);
  });

  it('keeps partial counts on cancel and error', () => {
    let p = onFrameReceived(startProgress(10, 0, 0), 0, 5);
    p = finishProgress(p, 'cancelled', 6);
    expect([p.status, p.done, p.total]).toEqual(['cancelled', 1, 10]);
    const e = finishProgress(p, 'error', 7, 'boom');
    expect(e.error).toBe('boom');
    expect(percent(idleProgress)).toBe(0);
  });

  it('formats durations', () => {
    expect(formatDuration(5.4)).toBe('5s');
    expect(formatDuration(125)).toBe('2m 05s');
  });
});
