/**
 * Mask exports built from the masks the browser already holds:
 * a zip with one PNG per object per frame, and a COCO-style RLE JSON.
 */
import { zipSync } from 'fflate';
import { decodeMask, rleArea, rleBBox, type RleMask } from '../render/rle';
import type { MaskStore } from '../state/masks';
import { cocoCategories, labelOf } from '../state/labels';
import type { Label, TrackedObject } from '../state/objects';
import { inRange } from '../state/ranges';
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
export function buildMaskZip(video: ExportVideoInfo, objects: readonly TrackedObject[], masks: MaskStore, labels: readonly Label[] = []): Uint8Array {
  const { width, height } = video;
  const files: Record<string, Uint8Array> = {};
  const empty = encodeGrayPng(new Uint8Array(width * height), width, height);
  for (const object of objects) {
    for (let f = 0; f < video.numFrames; f++) {
      const rle = inRange(object, f) ? masks.get(f, object.id) : undefined;
      files[maskPngName(object, f)] = rle ? maskToPng(rle, width, height) : empty;
    }
  }
  files['objects.json'] = new TextEncoder().encode(JSON.stringify(objectsSummary(video, objects, labels), null, 1));
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

/** objects.json: each object (instance) with its label and COCO category, and the label set. */
function objectsSummary(video: ExportVideoInfo, objects: readonly TrackedObject[], labels: readonly Label[]) {
  const { categories, categoryOf } = cocoCategories(objects, labels);
  return {
    video: video.path,
    width: video.width,
    height: video.height,
    num_frames: video.numFrames,
    labels: labels.map((l) => ({ name: l.name, color: l.color })),
    categories,
    objects: objects.map((o) => ({
      id: o.id, name: o.name, color: o.color, label: labelOf(o), category_id: categoryOf.get(o.id), folder: maskPngName(o, 0).split('/')[0],
      first_frame: o.firstFrame ?? 0, last_frame: o.lastFrame ?? video.numFrames - 1,
    })),
  };
}

/**
 * COCO-style JSON: the labels are the categories (objects without one share
 * "unlabelled"), each object an instance (`instance_id`, its id), one image
 * per frame, one annotation per (frame, object) mask with compressed RLE,
 * area and bbox.
 */
export function buildCocoJson(video: ExportVideoInfo, objects: readonly TrackedObject[], masks: MaskStore, labels: readonly Label[] = []) {
  const { categories, categoryOf } = cocoCategories(objects, labels);
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
      if (!rle || !inRange(object, f)) continue;
      annotations.push({
        id: annotations.length + 1,
        image_id: f,
        frame_index: f,
        category_id: categoryOf.get(object.id),
        object_id: object.id,
        instance_id: object.id,
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
    categories,
    instances: objects.map((o) => ({ id: o.id, name: o.name, category_id: categoryOf.get(o.id) })),
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
