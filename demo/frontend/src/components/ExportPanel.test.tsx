// @vitest-environment jsdom
// What the export panel says while a reopened video's masks are still on their way.
import { act } from 'react';
import { createRoot } from 'react-dom/client';
import { expect, it } from 'vitest';
import { DemoController } from '../app/controller';
import { ControllerContext } from '../app/useController';
import { addObject, emptyObjects } from '../state/objects';
import { ExportPanel } from './ExportPanel';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

it('says the masks are loading, not that there is nothing to export, right after a reload', async () => {
  const c = new DemoController('http://api.test');
  const video = { id: 'v', path: 'gallery/a.mp4', posterPath: null, url: '/gallery/a.mp4', posterUrl: null, width: 8, height: 4, fps: 25, numFrames: 10, durationSec: 0.4, displayName: 'a', isUpload: false };
  c.set({
    video, sessionStatus: 'starting', objects: addObject(emptyObjects, 16),
    prompts: { byKey: { '1:0': { points: [{ x: 0.5, y: 0.5, label: 1 }], box: null } } },
  });
  const host = document.body.appendChild(document.createElement('div'));
  const root = createRoot(host);
  await act(async () => {
    root.render(
      <ControllerContext.Provider value={c}>
        <ExportPanel />
      </ControllerContext.Provider>,
    );
  });
  expect(host.textContent).toContain('Loading the masks');
  expect(host.textContent).not.toContain('Nothing to export');
  // Once the session is ready and still no mask: nothing to export, as before.
  await act(async () => c.set({ sessionStatus: 'ready' }));
  expect(host.textContent).toContain('Nothing to export yet');
  act(() => root.unmount());
});
