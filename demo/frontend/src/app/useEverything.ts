/** React access to the open video's "segment everything" proposals. */
import { useSyncExternalStore } from 'react';
import type { GlMask } from '../render/glEffects';
import { proposalsOnFrame, type ProposalsState } from '../state/proposals';
import type { DemoController } from './controller';
import { useController } from './useController';

export function useEverythingState(): ProposalsState {
  const store = useController().everything;
  return useSyncExternalStore(store.subscribe, store.getState);
}

/** The open video's proposals to draw on `frame` (not objects yet: never stale). */
export function proposalMasksOnFrame(c: DemoController, frame: number): GlMask[] {
  return proposalsOnFrame(c.everything.getState(), frame).map((i) => ({ color: i.color, rle: i.proposal.rleMask, stale: false }));
}
