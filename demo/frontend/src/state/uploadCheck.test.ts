import { describe, expect, it } from 'vitest';
import { checkUploadFile } from './uploadCheck';

const limits = { maxUploadMb: 20, maxDurationSec: 10 };
const file = (name: string, size: number, type = 'video/mp4') => ({ name, size, type });

describe('checkUploadFile', () => {
  it('accepts a video within the limits, also of unknown duration', () => {
    expect(checkUploadFile(file('a.mp4', 1000), limits, 9.9)).toBeNull();
    expect(checkUploadFile(file('a.mov', 1000, ''), limits, null)).toBeNull();
    expect(checkUploadFile(file('a.mp4', 1000), limits, 10.04)).toBeNull();
  });
  it('refuses empty, too large and non-video files', () => {
    expect(checkUploadFile(file('a.mp4', 0), limits, null)?.problem).toMatch(/is empty/);
    expect(checkUploadFile(file('a.mp4', 21 * 1048576), limits, null)?.problem).toBe(
      '"a.mp4" is too large: 21.0 MB, the server accepts up to 20 MB.',
    );
    expect(checkUploadFile(file('notes.txt', 10, 'text/plain'), limits, null)).toEqual({
      problem: '"notes.txt" is not a video file (text/plain).',
      tooLong: false,
    });
  });
  it('marks too-long videos as fixable by trimming', () => {
    expect(checkUploadFile(file('long.mp4', 1000), limits, 600)).toEqual({
      problem: '"long.mp4" is too long: 600.0 s, the server accepts up to 10 s.',
      tooLong: true,
    });
  });
});
