import { describe, expect, it } from 'vitest';
import { clampFrame, formatTime, frameForTime, timeForFrame } from './frameTime';

describe('frame time', () => {
  it('round-trips every frame at common rates', () => {
    for (const fps of [24, 25, 29.97, 30, 60]) {
      for (let i = 0; i < 500; i++) {
        expect(frameForTime(timeForFrame(i, fps), fps, 1000)).toBe(i);
        expect(frameForTime(i / fps, fps, 1000)).toBe(i); // presentation timestamps
      }
    }
  });
  it('tolerates timestamps a hair early and clamps to the video', () => {
    expect(frameForTime(0.039999, 25, 50)).toBe(1);
    expect(frameForTime(99, 25, 50)).toBe(49);
    expect(frameForTime(-1, 25, 50)).toBe(0);
    expect(clampFrame(51.2, 50)).toBe(49);
    expect(clampFrame(-3, 50)).toBe(0);
  });
  it('formats minutes and seconds', () => {
    expect(formatTime(0)).toBe('0:00.00');
    expect(formatTime(65.5)).toBe('1:05.50');
  });
});
