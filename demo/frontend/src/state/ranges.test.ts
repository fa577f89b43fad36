import { describe, expect, it } from 'vitest';
import { addObject, emptyObjects } from './objects';
import { clearRange, endAt, inRange, rangeText, startAt } from './ranges';

describe('frame ranges', () => {
  it('end and start an object at a frame; a contradicting bound gives way', () => {
    const s0 = addObject(emptyObjects, 16);
    let s = endAt(s0, 1, 40);
    expect(inRange(s.objects[0], 40)).toBe(true);
    expect(inRange(s.objects[0], 41)).toBe(false);
    expect(endAt(s, 1, 40)).toBe(s); // no change
    s = startAt(s, 1, 10);
    expect([inRange(s.objects[0], 9), inRange(s.objects[0], 10)]).toEqual([false, true]);
    expect(rangeText(s.objects[0], 60)).toBe('frames 10–40');
    // Starting after the end drops the end.
    s = startAt(s, 1, 50);
    expect([s.objects[0].firstFrame, s.objects[0].lastFrame]).toEqual([50, null]);
    s = endAt(s, 1, 20);
    expect([s.objects[0].firstFrame, s.objects[0].lastFrame]).toEqual([null, 20]);
    s = clearRange(s, 1);
    expect(inRange(s.objects[0], 59)).toBe(true);
    expect(rangeText(s.objects[0], 60)).toBe('frames 0–59');
    expect(endAt(s, 99, 3)).toBe(s); // unknown object
  });
});
