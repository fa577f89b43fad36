/**
 * Mask exports built from the masks the browser already holds:
 * a zip with one PNG per object per frame, and a COCO-style RLE JSON.
 */
import { zipSync } from 'fflate';
import { decodeMask, rleArea, rleBBox, type RleMask } from '../render/rle';
import type { MaskStore } from '../state/masks';
import type { TrackedObject } from '../state/objects';
import { encodeGrayPng } from './png';

export interface ExportVideoInfo {
  /** Server path of the video, e.g. "gallery/bunny.mp4". */
  path: string;
  width: number;
  height: number;
  numFrames: number;
  fps: number;
}

/** File name inside the zip: one folder per object, one PNG per frame. */
export function maskPngName(object: TrackedObject, frameIndex: number): string {
  return `object_${String(object.id).padStart(2, '0')}/frame_${String(frameIndex).padStart(5, '0')}.png`;
}

/**
 * Build the PNG zip. Every frame gets a PNG for every object (all black
 * where the object has no mask), so the archive's shape never depends on
 * how far tracking got. Mask pixels are 255, background 0.
 */
export function buildMaskZip(video: ExportVideoInfo, objects: readonly TrackedObject[], masks: MaskStore): Uint8Array {
  const { width, height } = video;
  const files: Record<string, Uint8Array> = {};
  const empty = encodeGrayPng(new Uint8Array(width * height), width, height);
  for (const object of objects) {
    for (let f = 0; f < video.numFrames; f++) {
      const rle = masks.get(f, object.id);
      files[maskPngName(object, f)] = rle ? maskToPng(rle, width, height) : empty;
    }
  }
  files['objects.json'] = new TextEncoder().encode(JSON.stringify(objectsSummary(video, objects), null, 1));
  // PNGs are already deflated; storing them keeps export fast.
  return zipSync(files, { level: 0 });
}

function maskToPng(rle: RleMask, width: number, height: number): Uint8Array {
  const [h, w] = rle.size;
  if (h !== height || w !== width) {
    throw new Error(`a mask is ${w}x${h} but the video is ${width}x${height}`);
  }
  const bits = decodeMask(rle);
  for (let i = 0; i < bits.length; i++) bits[i] = bits[i] ? 255 : 0;
  return encodeGrayPng(bits, width, height);
}

function objectsSummary(video: ExportVideoInfo, objects: readonly TrackedObject[]) {
  return {
    video: video.path,
    width: video.width,
    height: video.height,
    num_frames: video.numFrames,
    objects: objects.map((o) => ({ id: o.id, name: o.name, color: o.color, folder: maskPngName(o, 0).split('/')[0] })),
  };
}

/**
 * COCO-style JSON: one category per object, one image per frame, one
 * annotation per (frame, object) mask with compressed RLE, area and bbox.
 */
export function buildCocoJson(video: ExportVideoInfo, objects: readonly TrackedObject[], masks: MaskStore) {
  const images = Array.from({ length: video.numFrames }, (_, f) => ({
    id: f,
    frame_index: f,
    file_name: `frame_${String(f).padStart(5, '0')}`,
    width: video.width,
    height: video.height,
  }));
  const annotations: object[] = [];
  for (let f = 0; f < video.numFrames; f++) {
    for (const object of objects) {
      const rle = masks.get(f, object.id);
      if (!rle) continue;
      annotations.push({
        id: annotations.length + 1,
        image_id: f,
        frame_index: f,
        category_id: object.id,
        object_id: object.id,
        segmentation: { size: rle.size, counts: rle.counts },
        area: rleArea(rle),
        bbox: rleBBox(rle),
        iscrowd: 0,
      });
    }
  }
  return {
    info: { description: 'SAM 2 demo masks', video: video.path, fps: video.fps },
    images,
    categories: objects.map((o) => ({ id: o.id, name: o.name })),
    annotations,
  };
}

/** Save bytes as a download in the browser. */
export function downloadBlob(data: BlobPart, fileName: string, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
