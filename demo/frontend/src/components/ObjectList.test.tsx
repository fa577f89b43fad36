// @vitest-environment jsdom
// The object rows as a screen reader meets them: buttons named after the object's current name.
import { act } from 'react';
import { createRoot } from 'react-dom/client';
import { afterEach, expect, it } from 'vitest';
import { DemoController } from '../app/controller';
import { ControllerContext } from '../app/useController';
import { addObject, renameObject } from '../state/objects';
import { ObjectList } from './ObjectList';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

afterEach(() => {
  document.body.innerHTML = '';
});

it('names the row and its buttons after a renamed object', async () => {
  const c = new DemoController('http://api.test');
  c.set({ objects: renameObject(addObject(addObject({ objects: [], selectedId: null, nextId: 1 }, 16), 16), 1, 'Bunny') });
  const host = document.body.appendChild(document.createElement('div'));
  const root = createRoot(host);
  await act(async () => {
    root.render(
      <ControllerContext.Provider value={c}>
        <ObjectList />
      </ControllerContext.Provider>,
    );
  });
  const labels = [...host.querySelectorAll('[aria-label]')].map((el) => el.getAttribute('aria-label'));
  expect(labels).toEqual(expect.arrayContaining(['Bunny', 'Select Bunny', 'Colour of Bunny', 'Clear Bunny', 'Remove Bunny', 'Select Object 2']));
  expect(labels.filter((l) => l?.includes('Object 1'))).toEqual(['Name of Object 1']);
  act(() => root.unmount());
});

it('says an object\'s masks are loading while a reopened video\'s masks are on their way', async () => {
  const c = new DemoController('http://api.test');
  c.set({
    sessionStatus: 'starting', objects: addObject({ objects: [], selectedId: null, nextId: 1 }, 16),
    prompts: { byKey: { '1:0': { points: [{ x: 0.5, y: 0.5, label: 1 }], box: null } } },
  });
  const host = document.body.appendChild(document.createElement('div'));
  const root = createRoot(host);
  await act(async () => {
    root.render(
      <ControllerContext.Provider value={c}>
        <ObjectList />
      </ControllerContext.Provider>,
    );
  });
  expect(host.querySelector('.object-info')?.textContent).toBe('prompts on 1 frame · loading masks…');
  await act(async () => c.set({ sessionStatus: 'ready' }));
  expect(host.querySelector('.object-info')?.textContent).toBe('prompts on 1 frame');
  act(() => root.unmount());
});
