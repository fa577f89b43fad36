import { expect, it } from 'vitest';
import { rulerFrames } from './ruler';

it('marks the ends and round frame numbers between', () => {
  expect(rulerFrames(132)).toEqual([0, 50, 100, 131]);
  expect(rulerFrames(60)).toEqual([0, 20, 40, 59]);
  expect(rulerFrames(10)).toEqual([0, 2, 4, 6, 9]);
  expect(rulerFrames(1)).toEqual([0]);
});
