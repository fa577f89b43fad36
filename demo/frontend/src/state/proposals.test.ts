import { describe, expect, it } from 'vitest';
import { OBJECT_PALETTE } from './objects';
import type { Proposal, SegmentEverythingResult } from '../api/segmentEverything';
import {
  failed, fromResult, highlight, idleProposals, progressPercent, proposalsOnFrame, returnProposals, secondsLeft, startRun, takeProposals, withProgress,
} from './proposals';

function proposal(score: number): Proposal {
  return { rleMask: { size: [2, 2], counts: '04' }, score, stabilityScore: 0.9, area: 4, bbox: [0, 0, 2, 2], point: [0.5, 0.5] };
}

const result: SegmentEverythingResult = {
  frameIndex: 7, candidates: 9, cancelled: false, seconds: 1.5,
  proposals: [proposal(0.9), proposal(0.95), proposal(0.5)],
};

describe('proposals state', () => {
  it('runs with monotonic progress', () => {
    let s = startRun(7);
    expect(s.status).toBe('running');
    s = withProgress(s, 2, 8);
    expect(progressPercent(s)).toBe(25);
    expect(withProgress(s, 1, 8)).toBe(s); // a late poll answer never goes back
    expect(withProgress(idleProposals, 1, 8)).toBe(idleProposals);
  });

  it('orders the proposals best first with distinct colours', () => {
    const s = fromResult(result);
    expect(s.status).toBe('ready');
    expect(s.items.map((i) => i.proposal.score)).toEqual([0.95, 0.9, 0.5]);
    expect(s.items.map((i) => i.key)).toEqual([0, 1, 2]);
    expect(new Set(s.items.map((i) => i.color)).size).toBe(3);
    expect(proposalsOnFrame(s, 7)).toHaveLength(3);
    expect(proposalsOnFrame(s, 6)).toHaveLength(0);
  });

  it('takes kept or dropped proposals out, and ends when none are left', () => {
    const s = fromResult(result);
    const [one, taken] = takeProposals(s, [1]);
    expect(taken.map((i) => i.proposal.score)).toEqual([0.9]);
    expect(one.items.map((i) => i.key)).toEqual([0, 2]);
    expect(one.status).toBe('ready');
    const [none, rest] = takeProposals(one, one.items.map((i) => i.key));
    expect(rest).toHaveLength(2);
    expect(none.status).toBe('idle');
    expect(none.frameIndex).toBeNull();
  });

  it('records failures without proposals', () => {
    const s = failed(startRun(3), 'boom');
    expect(s.status).toBe('error');
    expect(s.error).toBe('boom');
    expect(s.items).toEqual([]);
  });

  it('puts taken proposals back in rank order (an undone keep), unless a newer run replaced them', () => {
    const s = fromResult(result);
    const [one, taken] = takeProposals(s, [0, 2]);
    const back = returnProposals(one, 7, taken);
    expect(back.items.map((i) => i.key)).toEqual([0, 1, 2]);
    expect(back.status).toBe('ready');
    const [none, all] = takeProposals(s, [0, 1, 2]);
    expect(none.status).toBe('idle');
    expect(returnProposals(none, 7, all)).toMatchObject({ status: 'ready', frameIndex: 7 });
    expect(returnProposals(back, 7, taken).items).toHaveLength(3); // nothing doubled
    expect(returnProposals(startRun(3), 7, taken)).toEqual(startRun(3));
    const other = { ...fromResult(result), frameIndex: 3 };
    expect(returnProposals(other, 7, taken)).toBe(other);
  });
});

describe('proposal colours', () => {
  it('are none of the objects\' colours, so a proposal never looks like an object', () => {
    const inUse = [OBJECT_PALETTE[0], OBJECT_PALETTE[1].toUpperCase()];
    const colours = fromResult(result, inUse).items.map((i) => i.color);
    expect(colours).toEqual([OBJECT_PALETTE[2], OBJECT_PALETTE[3], OBJECT_PALETTE[4]]);
  });
});

describe('reviewing proposals', () => {
  it('a highlighted row\'s proposal is drawn alone; keeping it ends the highlight', () => {
    const s = fromResult(result);
    const h = highlight(s, 2);
    expect(proposalsOnFrame(h, 7).map((i) => i.key)).toEqual([2]);
    expect(highlight(h, 99).highlighted).toBeNull();
    expect(proposalsOnFrame(takeProposals(h, [2])[0], 7).map((i) => i.key)).toEqual([0, 1]);
  });

  it('a running generator tells the time left from its rate so far', () => {
    let s = startRun(7, 1000);
    expect(secondsLeft(s)).toBeNull(); // no batch done yet
    s = withProgress(s, 2, 8, 5000);
    expect(secondsLeft(s)).toBeCloseTo(12); // 2 batches in 4 s: 6 more take 12 s
  });
});
