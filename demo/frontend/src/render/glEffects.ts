/**
 * Effects on the GPU (WebGL2): one full-screen pass composes the video
 * frame with up to 255 object masks for a background effect and a
 * highlight effect. Blur, pixelate and glow first draw small textures (a
 * pyramid of the frame, a quarter-size glow), so that the full-size pass
 * stays about one fetch per texture and pixel. The masks reach the shader
 * as one 8-bit label texture (0 = no object, k = the k-th mask; where masks
 * overlap the later one wins), built from the COCO RLEs without decoding
 * them to images: the texture is stored transposed (width = video height),
 * so each RLE run is one `fill` of contiguous memory. The frame comes as an
 * image the browser uploads, or on software GL as I420 planes
 * (videoPlanes.ts) that the shaders convert.
 */
import { BACKGROUND_CODE, DEFAULT_EFFECTS, HIGHLIGHT_CODE, type EffectChoice } from './effectCatalog';
import { hexToRgb } from './maskPixels';
import { compositeSource, DOWNSAMPLE, downsampleFrameSource, GLOW, VERTEX } from './glShaders';
import { decodeCounts, type RleMask } from './rle';
import { isPlanarFrame, type PlanarFrame } from './videoPlanes';

/** Objects one pass can show (palette entries; 8-bit labels would allow 255). */
export const GL_MAX_OBJECTS = 32;

export interface GlMask {
  color: string;
  rle: RleMask;
  /** Computed before the latest prompt change: drawn hatched. */
  stale: boolean;
}

/** Run lengths per RLE, parsed once: playback and effect changes redraw the same masks often. */
const parsedCounts = new WeakMap<RleMask, number[]>();

function countsOf(rle: RleMask): number[] {
  let counts = parsedCounts.get(rle);
  if (!counts) {
    counts = decodeCounts(rle.counts);
    parsedCounts.set(rle, counts);
  }
  return counts;
}

/** Texture units: fixed per sampler, so a program's sampler uniforms are set once. */
const UNIT = { video: 0, labels: 1, palette: 2, blurred: 3, blocks: 4, pyramid: 5, glow: 6, luma: 7, chromaU: 8, chromaV: 9 } as const;

/** What a frame is drawn from: anything WebGL uploads, or I420 planes (software GL). */
export type FrameSource = TexImageSource | PlanarFrame;

function compile(gl: WebGL2RenderingContext, type: number, source: string): WebGLShader {
  const shader = gl.createShader(type);
  if (!shader) throw new Error('WebGL: cannot create a shader');
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(`WebGL shader: ${gl.getShaderInfoLog(shader)}`);
  return shader;
}

type AnyCanvas = HTMLCanvasElement | OffscreenCanvas;

interface Program {
  program: WebGLProgram;
  uniforms: Record<string, WebGLUniformLocation | null>;
}

/** A texture one pass draws into. */
interface Target {
  texture: WebGLTexture;
  framebuffer: WebGLFramebuffer;
  width: number;
  height: number;
}

/**
 * The pyramid blur and pixelate read: the frame at 1/4 and at 1/16 size
 * (each texel the mean of its 4x4 block of the level above: `blocks`), and
 * that 1/16 level softened twice by a 3x3 tent (`blurred`, via `scratch`).
 */
interface Pyramid {
  quarter: Target;
  blocks: Target;
  scratch: Target;
  blurred: Target;
}

export class GlEffectsRenderer {
  readonly kind = 'webgl';
  /** WebGL runs on the CPU here: hand `render` I420 planes rather than the <video> (videoPlanes.ts). */
  readonly wantsPlanes: boolean;
  private readonly gl: WebGL2RenderingContext;
  private readonly vertex: WebGLShader;
  /** Linked programs that read the frame (compositing per effect pair, the pyramid's first step), made on first use. */
  private readonly programs = new Map<string, Program>();
  private readonly downsample: Program;
  private readonly glowProgram: Program;
  /** The glow at a quarter of the mask size (made when the glow effect is shown). */
  private glow: Target | null = null;
  /** The uploaded image (UNIT.video), or the I420 planes (UNIT.luma, chromaU, chromaV) with their conversion. */
  private uploaded: WebGLTexture | null = null;
  private planeTex: WebGLTexture[] = [];
  private planar: PlanarFrame | null = null;
  private videoSize: [number, number] = [0, 0];
  private pyramid: Pyramid | null = null;
  private readonly maskTex: WebGLTexture;
  private readonly paletteTex: WebGLTexture;
  private labels = new Uint8Array(0);
  private maskSize: [number, number] = [0, 0];
  private lastMasks: GlMask[] | null = null;

  private constructor(gl: WebGL2RenderingContext) {
    this.gl = gl;
    this.vertex = compile(gl, gl.VERTEX_SHADER, VERTEX);
    // One quad at attribute 0 serves every program.
    gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    gl.enableVertexAttribArray(0);
    gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
    this.maskTex = this.texture(UNIT.labels, gl.NEAREST);
    this.paletteTex = this.texture(UNIT.palette, gl.NEAREST);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    this.downsample = this.link(DOWNSAMPLE, { uSource: UNIT.pyramid }, ['uOffset']);
    this.glowProgram = this.link(GLOW, { uLabels: UNIT.labels, uPalette: UNIT.palette }, ['uSize']);
    const debug = gl.getExtension('WEBGL_debug_renderer_info');
    const name = debug ? String(gl.getParameter(debug.UNMASKED_RENDERER_WEBGL)) : '';
    this.wantsPlanes = /swiftshader|llvmpipe|softpipe|software/i.test(name);
    this.use(DEFAULT_EFFECTS); // compile the default pair now: a shader error shows at creation
  }

  /** A new texture bound on `unit`, clamped at the edges. */
  private texture(unit: number, filter: number): WebGLTexture {
    const gl = this.gl;
    const tex = gl.createTexture();
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, filter);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, filter);
    return tex;
  }

  private link(fragment: string, samplers: Record<string, number>, other: string[]): Program {
    const gl = this.gl;
    const program = gl.createProgram();
    gl.attachShader(program, this.vertex);
    gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, fragment));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(`WebGL program: ${gl.getProgramInfoLog(program)}`);
    gl.useProgram(program);
    for (const [name, unit] of Object.entries(samplers)) gl.uniform1i(gl.getUniformLocation(program, name), unit);
    return { program, uniforms: Object.fromEntries(other.map((n) => [n, gl.getUniformLocation(program, n)])) };
  }

  /** Bind (making it on first use) a program that reads the frame: `key` names it, `source(planar)` is its shader. */
  private useFrameProgram(key: string, source: (planar: boolean) => string, samplers: Record<string, number>, other: string[]): Program {
    const gl = this.gl;
    const planar = this.planar;
    const fullKey = `${key}:${planar ? 'planes' : 'image'}`;
    let prog = this.programs.get(fullKey);
    if (!prog) {
      const frameSamplers: Record<string, number> = planar ? { uLuma: UNIT.luma, uChromaU: UNIT.chromaU, uChromaV: UNIT.chromaV } : { uVideo: UNIT.video };
      prog = this.link(source(Boolean(planar)), { ...samplers, ...frameSamplers }, [...other, 'uToRgb', 'uYuvOffset']);
      this.programs.set(fullKey, prog);
    }
    gl.useProgram(prog.program);
    if (planar) {
      gl.uniformMatrix3fv(prog.uniforms.uToRgb, false, planar.toRgb);
      gl.uniform3fv(prog.uniforms.uYuvOffset, planar.offset);
    }
    return prog;
  }

  /** Bind the compositing program of an effect pair. */
  private use(effect: EffectChoice): Program {
    const [bg, hl] = [BACKGROUND_CODE[effect.background], HIGHLIGHT_CODE[effect.highlight]];
    const samplers = { uLabels: UNIT.labels, uPalette: UNIT.palette, uBlurred: UNIT.blurred, uBlocks: UNIT.blocks, uGlow: UNIT.glow };
    return this.useFrameProgram(`composite ${bg}:${hl}`, (planar) => compositeSource(bg, hl, planar), samplers, ['uSize']);
  }

  /** A renderer on `canvas`, or null where WebGL2 is unavailable. */
  static create(canvas: AnyCanvas): GlEffectsRenderer | null {
    try {
      // preserveDrawingBuffer: the frame stays readable (tests, screenshots, export) after it is shown.
      const gl = canvas.getContext('webgl2', { preserveDrawingBuffer: true, antialias: false, premultipliedAlpha: false }) as WebGL2RenderingContext | null;
      return gl ? new GlEffectsRenderer(gl) : null;
    } catch {
      return null;
    }
  }

  private target(unit: number, width: number, height: number): Target {
    const gl = this.gl;
    const texture = this.texture(unit, gl.LINEAR);
    gl.texStorage2D(gl.TEXTURE_2D, 1, gl.RGBA8, width, height);
    const framebuffer = gl.createFramebuffer();
    gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    return { texture, framebuffer, width, height };
  }

  private dropPyramid(): void {
    for (const t of Object.values(this.pyramid ?? {}) as Target[]) {
      this.gl.deleteFramebuffer(t.framebuffer);
      this.gl.deleteTexture(t.texture);
    }
    this.pyramid = null;
  }

  /** Fill the pyramid from the video texture (its size: `this.videoSize`). */
  private buildPyramid(): void {
    const gl = this.gl;
    const [sw, sh] = this.videoSize;
    if (!this.pyramid) {
      const qw = Math.max(1, Math.round(sw / 4));
      const qh = Math.max(1, Math.round(sh / 4));
      const bw = Math.max(1, Math.round(qw / 4));
      const bh = Math.max(1, Math.round(qh / 4));
      // Units of their own, so that the compositing pass finds blocks and blurred bound.
      this.pyramid = {
        quarter: this.target(UNIT.pyramid, qw, qh),
        blocks: this.target(UNIT.blocks, bw, bh),
        scratch: this.target(UNIT.pyramid, bw, bh),
        blurred: this.target(UNIT.blurred, bw, bh),
      };
    }
    const { quarter, blocks, scratch, blurred } = this.pyramid;
    const draw = (into: Target) => {
      gl.bindFramebuffer(gl.FRAMEBUFFER, into.framebuffer);
      gl.viewport(0, 0, into.width, into.height);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    };
    // Offsets of one source texel: each tap then averages a 2x2 block, the four a 4x4 one.
    const first = this.useFrameProgram('downsample', downsampleFrameSource, {}, ['uOffset']);
    gl.uniform2f(first.uniforms.uOffset, 1 / sw, 1 / sh);
    draw(quarter);
    gl.useProgram(this.downsample.program);
    const pass = (source: Target, into: Target, spread: number) => {
      gl.activeTexture(gl.TEXTURE0 + UNIT.pyramid);
      gl.bindTexture(gl.TEXTURE_2D, source.texture);
      gl.uniform2f(this.downsample.uniforms.uOffset, spread / source.width, spread / source.height);
      draw(into);
    };
    pass(quarter, blocks, 1);
    pass(blocks, scratch, 0.5);
    pass(scratch, blurred, 0.5);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
  }

  /** Draw the glow of the current labels and palette (w x h: the mask size). */
  private buildGlow(w: number, h: number): void {
    const gl = this.gl;
    const gw = Math.max(1, Math.round(w / 4));
    const gh = Math.max(1, Math.round(h / 4));
    if (!this.glow || this.glow.width !== gw || this.glow.height !== gh) {
      if (this.glow) {
        gl.deleteFramebuffer(this.glow.framebuffer);
        gl.deleteTexture(this.glow.texture);
      }
      this.glow = this.target(UNIT.glow, gw, gh);
    }
    gl.useProgram(this.glowProgram.program);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.glow.framebuffer);
    gl.viewport(0, 0, gw, gh);
    gl.uniform2f(this.glowProgram.uniforms.uSize, w, h);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
  }

  /** Paint every object's RLE runs into the transposed label texture (label k+1 = masks[k]). */
  private uploadMasks(masks: GlMask[], w: number, h: number): void {
    const gl = this.gl;
    const same = this.lastMasks && this.lastMasks.length === masks.length && this.lastMasks.every((m, i) => m.rle === masks[i].rle);
    if (same && this.maskSize[0] === w && this.maskSize[1] === h) return;
    if (this.labels.length !== w * h) this.labels = new Uint8Array(w * h);
    else this.labels.fill(0);
    masks.forEach((m, k) => {
      const [mh, mw] = m.rle.size;
      if (mh !== h || mw !== w) return; // a mask of another size cannot be meant for this frame
      const counts = countsOf(m.rle);
      let pos = 0;
      for (let i = 0; i < counts.length; i++) {
        const end = Math.min(pos + counts[i], this.labels.length);
        if (i % 2 === 1 && end > pos) this.labels.fill(k + 1, pos, end);
        pos = end;
      }
    });
    gl.activeTexture(gl.TEXTURE0 + UNIT.labels);
    gl.bindTexture(gl.TEXTURE_2D, this.maskTex);
    if (this.maskSize[0] !== w || this.maskSize[1] !== h) {
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.R8, h, w, 0, gl.RED, gl.UNSIGNED_BYTE, this.labels);
      this.maskSize = [w, h];
    } else {
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, h, w, gl.RED, gl.UNSIGNED_BYTE, this.labels);
    }
    this.lastMasks = masks;
  }

  /** A new frame size: every texture of the old size goes (storage is made again on use). */
  private resize(sw: number, sh: number): void {
    const gl = this.gl;
    if (this.uploaded) gl.deleteTexture(this.uploaded);
    for (const t of this.planeTex) gl.deleteTexture(t);
    this.uploaded = null;
    this.planeTex = [];
    this.videoSize = [sw, sh];
    this.dropPyramid();
  }

  /** Upload the frame: the image on UNIT.video, or the planes on their three units. */
  private uploadVideo(source: FrameSource, sw: number, sh: number): void {
    const gl = this.gl;
    if (this.videoSize[0] !== sw || this.videoSize[1] !== sh) this.resize(sw, sh);
    if (isPlanarFrame(source)) {
      const chroma = [Math.ceil(sw / 2), Math.ceil(sh / 2)];
      const sizes = [[sw, sh], chroma, chroma];
      const units = [UNIT.luma, UNIT.chromaU, UNIT.chromaV];
      if (this.planeTex.length === 0) {
        this.planeTex = units.map((unit, i) => {
          const tex = this.texture(unit, gl.LINEAR);
          gl.texStorage2D(gl.TEXTURE_2D, 1, gl.R8, sizes[i][0], sizes[i][1]);
          return tex;
        });
      }
      units.forEach((unit, i) => {
        const { offset, stride } = source.planes[i];
        gl.activeTexture(gl.TEXTURE0 + unit);
        gl.bindTexture(gl.TEXTURE_2D, this.planeTex[i]);
        gl.pixelStorei(gl.UNPACK_ROW_LENGTH, stride);
        gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, sizes[i][0], sizes[i][1], gl.RED, gl.UNSIGNED_BYTE, source.data, offset);
      });
      gl.pixelStorei(gl.UNPACK_ROW_LENGTH, 0);
      this.planar = source;
    } else {
      if (!this.uploaded) {
        // Immutable storage once per size; each frame then only overwrites it.
        this.uploaded = this.texture(UNIT.video, gl.LINEAR);
        gl.texStorage2D(gl.TEXTURE_2D, 1, gl.RGBA8, sw, sh);
      }
      gl.activeTexture(gl.TEXTURE0 + UNIT.video);
      gl.bindTexture(gl.TEXTURE_2D, this.uploaded);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, gl.RGBA, gl.UNSIGNED_BYTE, source);
      this.planar = null;
    }
  }

  /**
   * Draw `source` with its masks (both w x h video px), filling the canvas
   * at whatever size it has (the live view uses its display size).
   * Only the first GL_MAX_OBJECTS masks are drawn (the server's default limit is 16).
   */
  render(source: FrameSource, masks: GlMask[], effect: EffectChoice, w: number, h: number): void {
    const gl = this.gl;
    const used = masks.slice(0, GL_MAX_OBJECTS);
    // Without masks every background effect shows the plain video.
    const shown = used.length === 0 ? { background: 'none' as const, highlight: effect.highlight } : effect;
    // The texture takes the source's own size (normally w x h; the shader samples it by uv).
    const sw = isPlanarFrame(source) ? source.width : source instanceof HTMLVideoElement ? source.videoWidth : w;
    const sh = isPlanarFrame(source) ? source.height : source instanceof HTMLVideoElement ? source.videoHeight : h;
    this.uploadVideo(source, sw, sh);
    if (shown.background === 'blur' || shown.background === 'pixelate') this.buildPyramid();
    this.uploadMasks(used, w, h);
    const palette = new Uint8Array((GL_MAX_OBJECTS + 1) * 4);
    used.forEach((m, k) => {
      const [r, g, b] = hexToRgb(m.color);
      palette.set([r, g, b, m.stale ? 255 : 0], (k + 1) * 4);
    });
    gl.activeTexture(gl.TEXTURE0 + UNIT.palette);
    gl.bindTexture(gl.TEXTURE_2D, this.paletteTex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, GL_MAX_OBJECTS + 1, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, palette);
    if (shown.highlight === 'glow' && used.length > 0) this.buildGlow(w, h);
    const { uniforms } = this.use(shown);
    gl.viewport(0, 0, gl.drawingBufferWidth, gl.drawingBufferHeight);
    gl.uniform2f(uniforms.uSize, w, h);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }
}
