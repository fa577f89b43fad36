import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PlaneReader, yuvConversion } from './videoPlanes';

/** What the shader computes: clamp(M * (yuv - offset)), with 8-bit inputs and outputs. */
function toRgb(space: VideoColorSpaceInit, y: number, u: number, v: number): number[] {
  const c = yuvConversion(space);
  if (!c) throw new Error('no conversion');
  const d = [y / 255 - c.offset[0], u / 255 - c.offset[1], v / 255 - c.offset[2]];
  return [0, 1, 2].map((row) => {
    const x = c.toRgb[row] * d[0] + c.toRgb[3 + row] * d[1] + c.toRgb[6 + row] * d[2];
    return Math.round(Math.min(1, Math.max(0, x)) * 255);
  });
}

describe('yuvConversion', () => {
  it('maps the ends of limited range to black and white', () => {
    for (const matrix of ['bt709', 'bt470bg', 'smpte170m'] as const) {
      expect(toRgb({ matrix, fullRange: false }, 16, 128, 128)).toEqual([0, 0, 0]);
      expect(toRgb({ matrix, fullRange: false }, 235, 128, 128)).toEqual([255, 255, 255]);
      expect(toRgb({ matrix, fullRange: true }, 0, 128, 128)).toEqual([0, 0, 0]);
      expect(toRgb({ matrix, fullRange: true }, 255, 128, 128)).toEqual([255, 255, 255]);
    }
  });

  it('gives the BT.709 and BT.601 primaries (within the rounding of their 8-bit codes)', () => {
    // Limited-range codes of pure red, green and blue (ITU-R BT.709-6 and BT.601-7).
    const cases: [VideoMatrixCoefficients, number[], number[]][] = [
      ['bt709', [63, 102, 240], [255, 0, 0]],
      ['bt709', [173, 42, 26], [0, 255, 0]],
      ['bt709', [32, 240, 118], [0, 0, 255]],
      ['bt470bg', [81, 90, 240], [255, 0, 0]],
      ['bt470bg', [145, 54, 34], [0, 255, 0]],
      ['smpte170m', [41, 240, 110], [0, 0, 255]],
    ];
    for (const [matrix, [y, u, v], want] of cases) {
      const got = toRgb({ matrix, fullRange: false }, y, u, v);
      got.forEach((g, i) => expect(Math.abs(g - want[i]), `${matrix} ${[y, u, v]} -> ${got}`).toBeLessThanOrEqual(2));
    }
  });

  it('leaves matrices it does not convert to the browser', () => {
    expect(yuvConversion({ matrix: 'rgb', fullRange: true })).toBeNull();
    expect(yuvConversion({ matrix: null, fullRange: null })).toBeNull();
  });
});

/** A stand-in for WebCodecs' VideoFrame over a fake <video>: planes filled with the picture's number. */
class FakeVideoFrame {
  static format: string = 'I420';
  readonly format = FakeVideoFrame.format;
  readonly colorSpace = { matrix: 'bt709', fullRange: false };
  readonly visibleRect: { width: number; height: number };
  private readonly picture: number;

  constructor(video: FakeVideo) {
    this.visibleRect = { width: video.videoWidth, height: video.videoHeight };
    this.picture = video.picture;
  }

  allocationSize(): number {
    return this.visibleRect.width * this.visibleRect.height * 1.5;
  }

  async copyTo(into: Uint8Array): Promise<PlaneLayout[]> {
    await Promise.resolve();
    into.fill(this.picture);
    const { width: w, height: h } = this.visibleRect;
    return [{ offset: 0, stride: w }, { offset: w * h, stride: w / 2 }, { offset: w * h * 1.25, stride: w / 2 }];
  }

  close(): void {}
}

interface FakeVideo {
  videoWidth: number;
  videoHeight: number;
  currentSrc: string;
  picture: number;
}

describe('PlaneReader', () => {
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  let video: FakeVideo;
  let ready: number;
  let reader: PlaneReader;

  beforeEach(() => {
    vi.stubGlobal('VideoFrame', FakeVideoFrame);
    FakeVideoFrame.format = 'I420';
    video = { videoWidth: 4, videoHeight: 2, currentSrc: 'a.mp4', picture: 1 };
    ready = 0;
    reader = new PlaneReader(video as unknown as HTMLVideoElement, () => ready++);
  });
  afterEach(() => vi.unstubAllGlobals());

  it('reads a picture once, then hands out the same planes', async () => {
    expect(reader.current()).toBeNull();
    expect(reader.current()).toBeNull(); // no second read for the same picture
    await settle();
    expect(ready).toBe(1);
    const planes = reader.current();
    expect(planes?.data[0]).toBe(1);
    expect(planes?.planes.map((p) => p.offset)).toEqual([0, 8, 10]);
    expect(reader.current()).toBe(planes);
  });

  it("reuses the last picture's buffer for the next one", async () => {
    reader.current();
    await settle();
    const first = reader.current()!.data.buffer;
    video.picture = 2;
    reader.invalidate();
    reader.current();
    await settle();
    const second = reader.current()!;
    expect(second.data[0]).toBe(2);
    expect(second.data.buffer).toBe(first);
  });

  it('drops a read the element has moved past, and reads the new picture', async () => {
    reader.current();
    video.picture = 3;
    reader.invalidate();
    await settle();
    expect(ready).toBe(0); // the stale read is not drawn
    expect(reader.current()).toBeNull();
    await settle();
    expect(reader.current()?.data[0]).toBe(3);
  });

  it('falls back to the element for a video it cannot read, until another video opens', async () => {
    FakeVideoFrame.format = 'NV12';
    reader.current();
    await settle();
    expect(ready).toBe(1);
    expect(reader.usable).toBe(false);
    expect(reader.current()).toBeNull();
    video.currentSrc = 'b.mp4';
    expect(reader.usable).toBe(true);
  });
});
