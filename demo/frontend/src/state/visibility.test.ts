import { expect, it } from 'vitest';
import { ALL_VISIBLE, isShown, toggleHidden, toggleSolo } from './visibility';

it('hides objects one by one; a solo shows one alone, hidden or not, until it ends', () => {
  let v = toggleHidden(ALL_VISIBLE, 2);
  expect([1, 2, 3].map((id) => isShown(v, id))).toEqual([true, false, true]);
  v = toggleSolo(v, 2);
  expect([1, 2, 3].map((id) => isShown(v, id))).toEqual([false, true, false]);
  v = toggleSolo(v, 2);
  expect([1, 2, 3].map((id) => isShown(v, id))).toEqual([true, false, true]);
  expect(isShown(toggleHidden(v, 2), 2)).toBe(true);
});
