/** React access to the single DemoController of the page. */
import { createContext, useContext, useSyncExternalStore } from 'react';
import type { DemoController, DemoState } from './controller';

export const ControllerContext = createContext<DemoController | null>(null);

export function useController(): DemoController {
  const c = useContext(ControllerContext);
  if (!c) throw new Error('useController must be used inside <ControllerContext.Provider>');
  return c;
}

export function useDemoState(): DemoState {
  const c = useController();
  return useSyncExternalStore(c.subscribe, c.getState);
}
