/**
 * The live camera page (`/camera`): pick a camera, see its picture tracked, click to prompt.
 *
 * What is drawn is always a frame the server answered, with that frame's masks: each captured
 * frame is kept (as a bitmap) until its answer comes, then drawn with the masks. So a click
 * lands on exactly the frame the user sees, and names it to the server. Capture runs at the
 * camera's pace, but at most two frames are in flight (see liveSession.ts): a slow server
 * makes the page send fewer frames instead of queueing them.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { clientId } from '../api/clientId';
import { hexToRgb, overlayPixels } from '../render/maskPixels';
import { decodeMask } from '../render/rle';
import { OBJECT_PALETTE } from '../state/objects';
import { FrameLedger, LiveConnection, type LiveObjectMask, type ServerMessage } from './liveSession';
import './camera.css';

const CAPTURE_LONG_SIDE = 640; // frames are scaled down to this before they are sent
const JPEG_QUALITY = 0.7;

interface Stats {
  sent: number;
  answered: number;
  dropped: number;
  delayMs: number | null;
  frame: number | null; // the number of the frame shown
  objects: number; // objects with a mask on it
}

interface Shown {
  seq: number;
  bitmap: ImageBitmap;
  objects: LiveObjectMask[];
}

function captureSize(width: number, height: number): [number, number] {
  const scale = Math.min(1, CAPTURE_LONG_SIDE / Math.max(width, height));
  // Even sizes: recordings are H.264.
  return [Math.max(16, Math.round((width * scale) / 2) * 2), Math.max(16, Math.round((height * scale) / 2) * 2)];
}

function hasCameraApi(): boolean {
  return typeof navigator.mediaDevices?.getUserMedia === 'function';
}

function colorOf(objectId: number): string {
  return OBJECT_PALETTE[(objectId - 1) % OBJECT_PALETTE.length];
}

export function CameraPage() {
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [deviceId, setDeviceId] = useState<string>('');
  const [running, setRunning] = useState(false);
  const [status, setStatus] = useState('Pick a camera and start.');
  const [error, setError] = useState<string | null>(() =>
    hasCameraApi() ? null : 'This browser gives no access to cameras (a secure https:// page is needed).',
  );
  const [stats, setStats] = useState<Stats>({ sent: 0, answered: 0, dropped: 0, delayMs: null, frame: null, objects: 0 });
  const [objects, setObjects] = useState<number[]>([]);
  const [activeObject, setActiveObject] = useState(1);
  const [recording, setRecording] = useState(false);
  const [recorded, setRecorded] = useState<Extract<ServerMessage, { type: 'recorded' }> | null>(null);

  const videoRef = useRef<HTMLVideoElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const streamRef = useRef<MediaStream | null>(null);
  const connectionRef = useRef<LiveConnection | null>(null);
  const ledgerRef = useRef(new FrameLedger(2));
  const pendingRef = useRef(new Map<number, ImageBitmap>()); // sent frames awaiting their answer
  const shownRef = useRef<Shown | null>(null);
  const timerRef = useRef<number | null>(null);
  const nextObjectRef = useRef(1);

  const listDevices = useCallback(() => {
    if (!hasCameraApi()) return;
    void navigator.mediaDevices.enumerateDevices().then((all) => {
      const cameras = all.filter((d) => d.kind === 'videoinput');
      setDevices(cameras);
      setDeviceId((current) => current || cameras[0]?.deviceId || '');
    });
  }, []);

  useEffect(listDevices, [listDevices]);

  const draw = useCallback((shown: Shown) => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const { width, height } = shown.bitmap;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.drawImage(shown.bitmap, 0, 0);
    for (const { objectId, rleMask } of shown.objects) {
      const [h, w] = rleMask.size;
      const overlay = new ImageData(overlayPixels(decodeMask(rleMask), w, h, hexToRgb(colorOf(objectId))) as Uint8ClampedArray<ArrayBuffer>, w, h);
      const layer = new OffscreenCanvas(w, h);
      layer.getContext('2d')?.putImageData(overlay, 0, 0);
      ctx.drawImage(layer, 0, 0, width, height);
    }
  }, []);

  const show = useCallback(
    (seq: number, masks: LiveObjectMask[]) => {
      const pending = pendingRef.current;
      const bitmap = pending.get(seq);
      for (const [s, b] of pending) {
        if (s <= seq && s !== seq) {
          b.close();
          pending.delete(s);
        }
      }
      if (!bitmap) return;
      pending.delete(seq);
      shownRef.current?.bitmap.close();
      shownRef.current = { seq, bitmap, objects: masks };
      draw(shownRef.current);
    },
    [draw],
  );

  const onMessage = useCallback(
    (m: ServerMessage) => {
      const ledger = ledgerRef.current;
      switch (m.type) {
        case 'started':
          setStatus(`Live: up to ${m.maxFps} frames/s; click an object to track it.`);
          break;
        case 'masks': {
          const delay = ledger.answer(m.frame, m.dropped, m.droppedCount, performance.now());
          show(m.frame, m.objects);
          setStats({
            sent: ledger.nextSeq,
            answered: ledger.answered,
            dropped: ledger.dropped,
            delayMs: delay === null ? null : ledger.medianDelay(),
            frame: m.frame,
            objects: m.objects.length,
          });
          break;
        }
        case 'prompted':
          if (shownRef.current && shownRef.current.seq === m.frame) {
            shownRef.current.objects = m.objects;
            draw(shownRef.current);
          }
          setObjects(m.objects.map((o) => o.objectId));
          break;
        case 'removed':
          setObjects((ids) => ids.filter((id) => id !== m.objectId));
          break;
        case 'recording':
          setRecording(m.on);
          setStatus(m.on ? 'Recording…' : m.frames ? `Saving ${m.frames} frames to your library…` : 'Recording stopped.');
          break;
        case 'recorded':
          setRecorded(m);
          setStatus(`Saved ${m.numFrames} frames to your library.`);
          break;
        case 'error':
          if (m.code === 'BAD_FRAME') ledger.forgetInFlight();
          setError(m.message);
          break;
        case 'end':
          setStatus(`Stopped after ${m.frames} frames.`);
          break;
      }
    },
    [draw, show],
  );

  const stopCapture = useCallback(() => {
    if (timerRef.current !== null) window.clearInterval(timerRef.current);
    timerRef.current = null;
    streamRef.current?.getTracks().forEach((t) => t.stop());
    streamRef.current = null;
    setRunning(false);
  }, []);

  const start = useCallback(async () => {
    setError(null);
    setRecorded(null);
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: deviceId ? { deviceId: { exact: deviceId } } : { facingMode: 'environment' },
        audio: false,
      });
    } catch (err) {
      setError(`The camera could not be opened: ${(err as Error).message}`);
      return;
    }
    streamRef.current = stream;
    listDevices(); // labels are known once access was granted
    const video = videoRef.current!;
    video.srcObject = stream;
    await video.play();
    const [width, height] = captureSize(video.videoWidth, video.videoHeight);
    const grab = new OffscreenCanvas(width, height);
    const grabCtx = grab.getContext('2d')!;
    ledgerRef.current = new FrameLedger(2);
    nextObjectRef.current = 1;
    setActiveObject(1);
    setObjects([]);
    const connection = new LiveConnection(width, height, clientId(), onMessage, (why) => {
      stopCapture();
      setStatus(`Disconnected: ${why}`);
    });
    connectionRef.current = connection;
    setRunning(true);
    let busy = false;
    const fps = stream.getVideoTracks()[0]?.getSettings().frameRate || 30;
    timerRef.current = window.setInterval(async () => {
      const ledger = ledgerRef.current;
      if (busy || !connection.open || !ledger.canSend()) return;
      busy = true;
      try {
        const capturedAt = performance.now();
        grabCtx.drawImage(video, 0, 0, width, height);
        const bitmap = grab.transferToImageBitmap();
        // The same pixels go to the server (as JPEG) and stay here until the answer.
        const encoder = new OffscreenCanvas(width, height);
        encoder.getContext('2d')!.drawImage(bitmap, 0, 0);
        const blob = await encoder.convertToBlob({ type: 'image/jpeg', quality: JPEG_QUALITY });
        const seq = ledger.sent(capturedAt);
        pendingRef.current.set(seq, bitmap);
        connection.sendFrame(seq, await blob.arrayBuffer());
      } finally {
        busy = false;
      }
    }, 1000 / Math.min(fps, 30));
  }, [deviceId, listDevices, onMessage, stopCapture]);

  const stop = useCallback(() => {
    connectionRef.current?.stop();
    stopCapture();
  }, [stopCapture]);

  useEffect(() => () => {
    connectionRef.current?.close();
    stopCapture();
  }, [stopCapture]);

  const onCanvasClick = useCallback(
    (e: React.MouseEvent<HTMLCanvasElement>) => {
      const shown = shownRef.current;
      const connection = connectionRef.current;
      if (!shown || !connection) return;
      e.preventDefault();
      const rect = e.currentTarget.getBoundingClientRect();
      const x = Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
      const y = Math.min(1, Math.max(0, (e.clientY - rect.top) / rect.height));
      const negative = e.button === 2 || e.altKey;
      const objectId = activeObject;
      const known = objects.includes(objectId);
      connection.addPoint(shown.seq, objectId, x, y, negative ? 0 : 1, !known);
    },
    [activeObject, objects],
  );

  const addObject = useCallback(() => {
    nextObjectRef.current = Math.max(nextObjectRef.current, ...objects) + 1;
    setActiveObject(nextObjectRef.current);
  }, [objects]);

  return (
    <div className="camera-page">
      <header className="header">
        <h1>SAM 2 live camera</h1>
        <a href="/" className="muted">Videos</a>
      </header>
      <div className="camera-controls row wrap">
        <label>
          Camera{' '}
          <select aria-label="Camera" value={deviceId} onChange={(e) => setDeviceId(e.target.value)} disabled={running}>
            {devices.map((d, i) => (
              <option key={d.deviceId || i} value={d.deviceId}>{d.label || `Camera ${i + 1}`}</option>
            ))}
          </select>
        </label>
        {running ? (
          <button type="button" onClick={stop}>Stop camera</button>
        ) : (
          <button type="button" className="primary" onClick={() => void start()}>Start camera</button>
        )}
        <button type="button" onClick={addObject} disabled={!running}>Add object</button>
        <button
          type="button"
          aria-pressed={recording}
          disabled={!running}
          onClick={() => connectionRef.current?.record(!recording)}
        >
          {recording ? 'Stop recording' : 'Record'}
        </button>
      </div>
      <p className="muted" role="status">{status}</p>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="camera-stage">
        <canvas
          ref={canvasRef}
          aria-label="Live picture: click an object to track it (right click: not part of it)"
          data-frame={stats.frame ?? ''}
          data-objects={stats.objects}
          onClick={onCanvasClick}
          onContextMenu={(e) => {
            e.preventDefault();
            onCanvasClick(e);
          }}
        />
        <video ref={videoRef} muted playsInline hidden />
      </div>
      <dl className="camera-stats">
        <dt>Frames sent</dt><dd data-stat="sent">{stats.sent}</dd>
        <dt>Tracked</dt><dd data-stat="answered">{stats.answered}</dd>
        <dt>Dropped</dt><dd data-stat="dropped">{stats.dropped}</dd>
        <dt>Capture to mask</dt><dd data-stat="delay">{stats.delayMs === null ? '–' : `${Math.round(stats.delayMs)} ms`}</dd>
      </dl>
      <ul className="camera-objects" aria-label="Objects">
        {[...new Set([...objects, activeObject])].sort((a, b) => a - b).map((id) => (
          <li key={id}>
            <button type="button" aria-pressed={id === activeObject} onClick={() => setActiveObject(id)}>
              <span className="swatch" style={{ background: colorOf(id) }} /> Object {id}
            </button>
            {objects.includes(id) && (
              <button type="button" className="link" onClick={() => connectionRef.current?.removeObject(id)}>remove</button>
            )}
          </li>
        ))}
      </ul>
      {recorded && (
        <p className="camera-recorded" data-session={recorded.sessionId} data-path={recorded.path}>
          Recording saved: <a href={`/?video=${encodeURIComponent(recorded.path)}`}>{recorded.path}</a>{' '}
          ({recorded.numFrames} frames, objects {recorded.objects.join(', ') || 'none'})
        </p>
      )}
    </div>
  );
}
