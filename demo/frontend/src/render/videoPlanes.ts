/**
 * A video frame as its Y, U and V planes (I420), read with WebCodecs.
 *
 * Where WebGL is emulated on the CPU (SwiftShader, llvmpipe), uploading a
 * <video> makes the browser convert the frame to RGBA and copy 4 bytes a
 * pixel: about 10 ms a 1280x720 frame on the page's main thread. The planes
 * are 1.5 bytes a pixel, copied in well under a millisecond, and the shader
 * converts them. On a real GPU the browser's own upload is a GPU-side copy,
 * so the renderer asks for planes only on software GL (`wantsPlanes`).
 */

export interface PlanarFrame {
  readonly kind: 'planes';
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
  /** Offset and stride (bytes) of the Y, U and V planes in `data`. */
  readonly planes: readonly PlaneLayout[];
  /** YUV -> RGB, column-major for GLSL's mat3, applied after subtracting `offset`. */
  readonly toRgb: Float32Array;
  readonly offset: Float32Array;
}

export const isPlanarFrame = (s: object): s is PlanarFrame => (s as Partial<PlanarFrame>).kind === 'planes';

/** Luma weights (Kr, Kb) of the matrices we convert; others keep the browser's upload. */
const LUMA_WEIGHTS: Partial<Record<VideoMatrixCoefficients, [number, number]>> = {
  bt709: [0.2126, 0.0722],
  bt470bg: [0.299, 0.114],
  smpte170m: [0.299, 0.114],
};

/** The conversion of a colour space, or null when it is not one we convert. */
export function yuvConversion(space: VideoColorSpaceInit): Pick<PlanarFrame, 'toRgb' | 'offset'> | null {
  const weights = space.matrix ? LUMA_WEIGHTS[space.matrix] : undefined;
  if (!weights) return null;
  const [kr, kb] = weights;
  const kg = 1 - kr - kb;
  // Limited ("TV") range stores luma in 16..235 and chroma in 16..240.
  const full = space.fullRange === true;
  const ys = full ? 1 : 255 / 219;
  const cs = full ? 1 : 255 / 224;
  const toRgb = new Float32Array([
    ys, ys, ys, // Y
    0, (-2 * (1 - kb) * kb * cs) / kg, 2 * (1 - kb) * cs, // U
    2 * (1 - kr) * cs, (-2 * (1 - kr) * kr * cs) / kg, 0, // V
  ]);
  const offset = new Float32Array([full ? 0 : 16 / 255, 128 / 255, 128 / 255]);
  return { toRgb, offset };
}

/**
 * The planes of the picture `video` shows now, or null when it cannot give
 * them as I420 in a colour space we convert (the caller then uploads the
 * element itself). `into`, when large enough, receives the planes instead of a new buffer.
 */
export async function readPlanes(video: HTMLVideoElement, into?: Uint8Array): Promise<PlanarFrame | null> {
  if (typeof VideoFrame === 'undefined') return null;
  let frame: VideoFrame;
  try {
    frame = new VideoFrame(video);
  } catch {
    return null; // no picture yet, or the browser will not wrap this element
  }
  try {
    const conversion = frame.format === 'I420' ? yuvConversion(frame.colorSpace) : null;
    const rect = frame.visibleRect;
    // Planes of another size than the element's (non-square pixels) would need resampling: not here.
    if (!conversion || !rect || rect.width !== video.videoWidth || rect.height !== video.videoHeight) return null;
    const size = frame.allocationSize();
    const data = into && into.length >= size ? into.subarray(0, size) : new Uint8Array(size);
    const planes = await frame.copyTo(data);
    return { kind: 'planes', width: rect.width, height: rect.height, data, planes, ...conversion };
  } catch {
    return null;
  } finally {
    frame.close();
  }
}

/**
 * The planes of the picture a <video> shows, read once per picture: the
 * stage calls `invalidate` whenever the element may show another one, and
 * redraws on `onReady` when a read it asked for has finished.
 */
export class PlaneReader {
  private planes: PlanarFrame | null = null;
  /** A buffer no read writes into and no current planes hold: the next read's (1.4 MB a 720p frame, 25 times a second). */
  private spare: Uint8Array | null = null;
  private generation = 0;
  private readingGeneration = -1;
  /** The source the element could not give planes of: drawn from the element itself. */
  private refusedSource: string | null = null;
  private readonly video: HTMLVideoElement;
  private readonly onReady: () => void;

  constructor(video: HTMLVideoElement, onReady: () => void) {
    this.video = video;
    this.onReady = onReady;
  }

  invalidate(): void {
    this.generation++;
    if (this.planes) this.spare = this.planes.data; // the renderer copied it to the GPU already
    this.planes = null;
  }

  /** False when this video cannot give planes: draw the element instead. */
  get usable(): boolean {
    return this.refusedSource !== this.video.currentSrc;
  }

  /** The current picture's planes, or null while they are being read (onReady follows). */
  current(): PlanarFrame | null {
    if (this.planes || !this.usable || this.readingGeneration === this.generation) return this.planes;
    const generation = (this.readingGeneration = this.generation);
    const source = this.video.currentSrc;
    const buffer = this.spare ?? undefined;
    this.spare = null;
    void readPlanes(this.video, buffer).then((planes) => {
      if (generation !== this.generation) {
        this.spare = planes?.data ?? buffer ?? this.spare; // the element has moved on; its next draw asks again
        return;
      }
      if (planes) this.planes = planes;
      else {
        this.refusedSource = source;
        this.spare = buffer ?? null;
      }
      this.onReady();
    });
    return null;
  }
}
