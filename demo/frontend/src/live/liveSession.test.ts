import { describe, expect, it } from 'vitest';
import { FrameLedger, frameMessage, liveUrl } from './liveSession';

describe('frameMessage', () => {
  it('puts the frame number first, big-endian, then the image bytes', () => {
    const msg = new Uint8Array(frameMessage(0x01020304, new Uint8Array([9, 8, 7]).buffer));
    expect([...msg]).toEqual([1, 2, 3, 4, 9, 8, 7]);
  });
});

describe('liveUrl', () => {
  it('speaks ws to an http server and wss to an https one', () => {
    expect(liveUrl('http://127.0.0.1:7262')).toBe('ws://127.0.0.1:7262/live');
    expect(liveUrl('https://demo.example/')).toBe('wss://demo.example/live');
  });
});

describe('FrameLedger', () => {
  it('allows two frames in flight, then waits for an answer', () => {
    const ledger = new FrameLedger(2);
    expect(ledger.sent(0)).toBe(0);
    expect(ledger.sent(10)).toBe(1);
    expect(ledger.canSend()).toBe(false);
    expect(ledger.answer(0, [], 0, 100)).toBe(100);
    expect(ledger.canSend()).toBe(true);
  });

  it('counts dropped frames and forgets frames older than an answer', () => {
    const ledger = new FrameLedger(4);
    for (let i = 0; i < 4; i++) ledger.sent(i * 10);
    // Frame 2 answered, frame 3 dropped while 2 was tracked; frames 0 and 1 will never be answered.
    expect(ledger.answer(2, [3], 1, 70)).toBe(50);
    expect(ledger.inFlight).toBe(0);
    expect(ledger.dropped).toBe(1);
    expect(ledger.answered).toBe(1);
    expect(ledger.answer(3, [], 0, 80)).toBeNull();
  });

  it('gives the median delay of the recent answers', () => {
    const ledger = new FrameLedger(8, 3);
    expect(ledger.medianDelay()).toBeNull();
    for (const [at, now] of [[0, 500], [10, 40], [20, 60], [30, 90]]) ledger.answer(ledger.sent(at), [], 0, now);
    expect(ledger.medianDelay()).toBe(40); // the last three: 30, 40, 60
  });
});
