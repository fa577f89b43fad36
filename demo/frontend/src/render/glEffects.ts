/**
 * Effects on the GPU (WebGL2): one full-screen pass composes the video
 * frame with up to 255 object masks for a background effect and a highlight
 * effect. The masks reach the shader as one 8-bit label texture (0 = no
 * object, k = the k-th mask; where masks overlap the later one wins), built
 * from the COCO RLEs without decoding them to images: the texture is stored
 * transposed (width = video height), so each RLE run is one `fill` of
 * contiguous memory.
 */
import { BACKGROUND_CODE, DEFAULT_EFFECTS, HIGHLIGHT_CODE, type EffectChoice } from './effectCatalog';
import { hexToRgb } from './maskPixels';
import { decodeCounts, type RleMask } from './rle';

/** Objects one pass can show (palette entries; 8-bit labels would allow 255). */
export const GL_MAX_OBJECTS = 32;

export interface GlMask {
  color: string;
  rle: RleMask;
  /** Computed before the latest prompt change: drawn hatched. */
  stale: boolean;
}

const VERTEX = `#version 300 es
in vec2 aPos;
out vec2 vUv;
void main() {
  vUv = vec2(aPos.x * 0.5 + 0.5, 0.5 - aPos.y * 0.5);
  gl_Position = vec4(aPos, 0.0, 1.0);
}`;

/**
 * The fragment shader of one (background, highlight) pair: the pair is
 * baked in as constants so the compiler drops every other branch (software
 * GL flattens branches and would otherwise pay for all effects per pixel).
 */
const fragmentSource = (background: number, highlight: number) => `#version 300 es
precision highp float;
precision highp int;
uniform sampler2D uVideo;
uniform sampler2D uLabels;
uniform vec2 uSize;
const int uBackground = ${background};
const int uHighlight = ${highlight};
uniform sampler2D uPalette; // texel k: colour of label k, alpha 1 when its mask is stale
in vec2 vUv;
out vec4 outColor;

int labelAt(ivec2 p) {
  p = clamp(p, ivec2(0), ivec2(uSize) - 1);
  return int(texelFetch(uLabels, ivec2(p.y, p.x), 0).r * 255.0 + 0.5); // stored transposed
}

vec3 background(vec3 c, vec2 uv) {
  float unit = max(uSize.x, uSize.y);
  if (uBackground == 1) return c * 0.25;
  if (uBackground == 2) {
    float lod = log2(unit / 90.0);
    vec2 d = 3.0 * exp2(lod) / uSize;
    return 0.25 * (textureLod(uVideo, uv + vec2(d.x, d.y), lod).rgb + textureLod(uVideo, uv - vec2(d.x, d.y), lod).rgb
      + textureLod(uVideo, uv + vec2(d.x, -d.y), lod).rgb + textureLod(uVideo, uv - vec2(d.x, -d.y), lod).rgb);
  }
  if (uBackground == 3) {
    float block = max(4.0, floor(unit / 64.0));
    vec2 cell = (floor(uv * uSize / block) + 0.5) * block / uSize;
    return textureLod(uVideo, cell, log2(block)).rgb;
  }
  float grey = dot(c, vec3(0.299, 0.587, 0.114));
  if (uBackground == 4) return vec3(grey);
  if (uBackground == 5) return min(vec3(1.0), grey * vec3(1.07, 0.74, 0.43) + vec3(0.08, 0.05, 0.0));
  if (uBackground == 6) return vec3(1.0);
  if (uBackground == 7) return vec3(0.0);
  if (uBackground == 8) return mix(vec3(0.10, 0.16, 0.42), vec3(0.55, 0.18, 0.62), clamp((uv.x + uv.y) * 0.5, 0.0, 1.0));
  return c;
}

void main() {
  ivec2 p = ivec2(vUv * uSize);
  vec3 video = texture(uVideo, vUv).rgb;
  int label = labelAt(p);
  float unit = max(uSize.x, uSize.y);
  vec3 color;
  if (label != 0) {
    vec4 entry = texelFetch(uPalette, ivec2(label, 0), 0);
    vec3 tint = entry.rgb;
    color = video;
    if (uHighlight == 1 || uHighlight == 2) color = mix(video, tint, 0.45);
    if (uHighlight == 5) color = tint;
    if (uHighlight == 1 || uHighlight == 3) {
      int r = max(1, int(unit / 400.0));
      // Two diagonal neighbours find every edge but a 45-degree one, at half the fetches of four.
      bool edge = labelAt(p + ivec2(r, r)) != label || labelAt(p - ivec2(r, r)) != label;
      if (edge) color = uHighlight == 1 ? mix(tint, vec3(1.0), 0.35) : tint;
    }
    if (entry.a > 0.5 && mod(gl_FragCoord.x + gl_FragCoord.y, 14.0) < 5.0) color = mix(color, vec3(0.5), 0.6);
  } else {
    color = background(video, vUv);
    if (uHighlight == 4) {
      // Glow: an object within a few radii lights the pixel, a nearer one more.
      float step = max(2.0, unit / 160.0);
      int near1 = 0;
      int near2 = 0;
      for (int i = 0; i < 8; i++) {
        float a = float(i) * 0.785398;
        vec2 dir = vec2(cos(a), sin(a));
        near1 = max(near1, labelAt(p + ivec2(dir * step)));
        near2 = max(near2, labelAt(p + ivec2(dir * step * 2.5)));
      }
      if (near1 != 0) color = mix(color, texelFetch(uPalette, ivec2(near1, 0), 0).rgb, 0.75);
      else if (near2 != 0) color = mix(color, texelFetch(uPalette, ivec2(near2, 0), 0).rgb, 0.4);
    }
  }
  outColor = vec4(color, 1.0);
}`;

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

export class GlEffectsRenderer {
  readonly kind = 'webgl';
  private readonly gl: WebGL2RenderingContext;
  private readonly vertex: WebGLShader;
  private readonly quad: WebGLBuffer;
  /** Linked programs by "background:highlight" code, made on first use. */
  private readonly programs = new Map<string, Program>();
  private videoTex: WebGLTexture;
  private videoSize: [number, number] = [0, 0];
  private readonly maskTex: WebGLTexture;
  private readonly paletteTex: WebGLTexture;
  private labels = new Uint8Array(0);
  private maskSize: [number, number] = [0, 0];
  private lastMasks: GlMask[] | null = null;

  private constructor(gl: WebGL2RenderingContext) {
    this.gl = gl;
    this.vertex = compile(gl, gl.VERTEX_SHADER, VERTEX);
    this.quad = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, this.quad);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    this.videoTex = gl.createTexture();
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.videoTex);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR_MIPMAP_LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    this.maskTex = gl.createTexture();
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, this.maskTex);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    this.paletteTex = gl.createTexture();
    gl.activeTexture(gl.TEXTURE2);
    gl.bindTexture(gl.TEXTURE_2D, this.paletteTex);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    this.use(DEFAULT_EFFECTS); // compile the default pair now: a shader error shows at creation
  }

  /** Bind (making it on first use) the program of an effect pair. */
  private use(effect: EffectChoice): Program {
    const gl = this.gl;
    const key = `${BACKGROUND_CODE[effect.background]}:${HIGHLIGHT_CODE[effect.highlight]}`;
    let prog = this.programs.get(key);
    if (!prog) {
      const program = gl.createProgram();
      gl.attachShader(program, this.vertex);
      gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, fragmentSource(BACKGROUND_CODE[effect.background], HIGHLIGHT_CODE[effect.highlight])));
      gl.linkProgram(program);
      if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(`WebGL program: ${gl.getProgramInfoLog(program)}`);
      const uniforms = Object.fromEntries(['uVideo', 'uLabels', 'uPalette', 'uSize'].map((n) => [n, gl.getUniformLocation(program, n)]));
      gl.useProgram(program);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.quad);
      const loc = gl.getAttribLocation(program, 'aPos');
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
      gl.uniform1i(uniforms.uVideo, 0);
      gl.uniform1i(uniforms.uLabels, 1);
      gl.uniform1i(uniforms.uPalette, 2);
      prog = { program, uniforms };
      this.programs.set(key, prog);
    }
    gl.useProgram(prog.program);
    return prog;
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
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, this.maskTex);
    if (this.maskSize[0] !== w || this.maskSize[1] !== h) {
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.R8, h, w, 0, gl.RED, gl.UNSIGNED_BYTE, this.labels);
      this.maskSize = [w, h];
    } else {
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, h, w, gl.RED, gl.UNSIGNED_BYTE, this.labels);
    }
    this.lastMasks = masks;
  }

  /**
   * Draw `source` with its masks (both w x h video px), filling the canvas
   * at whatever size it has (the live view uses its display size).
   * Only the first GL_MAX_OBJECTS masks are drawn (the server's default limit is 16).
   */
  render(source: TexImageSource, masks: GlMask[], effect: EffectChoice, w: number, h: number): void {
    const gl = this.gl;
    const used = masks.slice(0, GL_MAX_OBJECTS);
    gl.viewport(0, 0, gl.drawingBufferWidth, gl.drawingBufferHeight);
    // Without masks every background effect shows the plain video.
    const { uniforms } = this.use(used.length === 0 ? { background: 'none', highlight: effect.highlight } : effect);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.videoTex);
    // The texture takes the source's own size (normally w x h; the shader samples it by uv).
    const sw = source instanceof HTMLVideoElement ? source.videoWidth : w;
    const sh = source instanceof HTMLVideoElement ? source.videoHeight : h;
    if (this.videoSize[0] !== sw || this.videoSize[1] !== sh) {
      // Storage once per size (with room for mipmaps); each frame then only overwrites level 0.
      gl.deleteTexture(this.videoTex);
      this.videoTex = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, this.videoTex);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      gl.texStorage2D(gl.TEXTURE_2D, Math.floor(Math.log2(Math.max(sw, sh, 1))) + 1, gl.RGBA8, sw, sh);
      this.videoSize = [sw, sh];
    }
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, gl.RGBA, gl.UNSIGNED_BYTE, source);
    const needsMips = effect.background === 'blur' || effect.background === 'pixelate';
    if (needsMips) gl.generateMipmap(gl.TEXTURE_2D);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, needsMips ? gl.LINEAR_MIPMAP_LINEAR : gl.LINEAR);
    this.uploadMasks(used, w, h);
    const palette = new Uint8Array((GL_MAX_OBJECTS + 1) * 4);
    used.forEach((m, k) => {
      const [r, g, b] = hexToRgb(m.color);
      palette.set([r, g, b, m.stale ? 255 : 0], (k + 1) * 4);
    });
    gl.activeTexture(gl.TEXTURE2);
    gl.bindTexture(gl.TEXTURE_2D, this.paletteTex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, GL_MAX_OBJECTS + 1, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, palette);
    gl.uniform2f(uniforms.uSize, w, h);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }
}
