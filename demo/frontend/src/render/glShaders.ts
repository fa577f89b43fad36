/**
 * GLSL sources of the WebGL effects (glEffects.ts). Every pass draws one
 * full-screen quad; `vUv` has its origin at the top-left of the picture,
 * like the video texture (uploaded without a flip).
 */

export const VERTEX = `#version 300 es
layout(location = 0) in vec2 aPos;
out vec2 vUv;
void main() {
  vUv = vec2(aPos.x * 0.5 + 0.5, 0.5 - aPos.y * 0.5);
  gl_Position = vec4(aPos, 0.0, 1.0);
}`;

/**
 * `videoAt(uv)`: the frame's colour, from the uploaded image or from its
 * I420 planes (videoPlanes.ts). Filtering the planes before converting them
 * equals converting first: the conversion is linear.
 */
const videoSampling = (planar: boolean) => planar ? `
uniform sampler2D uLuma;
uniform sampler2D uChromaU;
uniform sampler2D uChromaV;
uniform mat3 uToRgb;
uniform vec3 uYuvOffset;
vec3 videoAt(vec2 uv) {
  vec3 yuv = vec3(texture(uLuma, uv).r, texture(uChromaU, uv).r, texture(uChromaV, uv).r);
  return clamp(uToRgb * (yuv - uYuvOffset), 0.0, 1.0);
}` : `
uniform sampler2D uVideo;
vec3 videoAt(vec2 uv) {
  return texture(uVideo, uv).rgb;
}`;

/**
 * One step of the blur pyramid: the average of four bilinear taps `uSpread`
 * source texels from the centre of each target texel. With a spread of 1
 * and a target a quarter of the source's size each tap averages a 2x2 block,
 * so the four make the exact 4x4 box; with a spread of 0.5 at the same size
 * the taps make a 3x3 tent. The source is read upside down because a
 * framebuffer's first row is the picture's bottom: the result then has the
 * video texture's orientation again.
 */
export const DOWNSAMPLE = `#version 300 es
precision highp float;
uniform sampler2D uSource;
uniform vec2 uOffset; // the spread, in source uv
in vec2 vUv;
out vec4 outColor;
void main() {
  vec2 uv = vec2(vUv.x, 1.0 - vUv.y);
  outColor = 0.25 * (texture(uSource, uv - uOffset) + texture(uSource, uv + uOffset)
    + texture(uSource, uv + vec2(uOffset.x, -uOffset.y)) + texture(uSource, uv + vec2(-uOffset.x, uOffset.y)));
}`;

/** The pyramid's first step from the frame itself (`videoAt`), as DOWNSAMPLE does from a texture. */
export const downsampleFrameSource = (planar: boolean) => `#version 300 es
precision highp float;
uniform vec2 uOffset;
in vec2 vUv;
out vec4 outColor;
${videoSampling(planar)}
void main() {
  vec2 uv = vec2(vUv.x, 1.0 - vUv.y);
  vec3 sum = videoAt(uv - uOffset) + videoAt(uv + uOffset) + videoAt(uv + vec2(uOffset.x, -uOffset.y)) + videoAt(uv + vec2(-uOffset.x, uOffset.y));
  outColor = vec4(0.25 * sum, 1.0);
}`;

/** The label (0 = none, k = the k-th mask) at video pixel p, from the transposed label texture. */
const LABEL_AT = `
int labelAt(ivec2 p) {
  p = clamp(p, ivec2(0), ivec2(uSize) - 1);
  return int(texelFetch(uLabels, ivec2(p.y, p.x), 0).r * 255.0 + 0.5);
}`;

/**
 * The glow of the objects at a quarter of the video's size, premultiplied
 * (rgb = colour x weight, a = weight) so that bilinear upsampling in the
 * compositing pass blends it without dark fringes: a pixel with an object
 * within a few radii gets that object's colour, a nearer one more.
 * Its 16 label fetches per pixel thus run on 1/16 of the pixels.
 */
export const GLOW = `#version 300 es
precision highp float;
precision highp int;
uniform sampler2D uLabels;
uniform sampler2D uPalette;
uniform vec2 uSize; // video px
in vec2 vUv;
out vec4 outColor;
${LABEL_AT}
const vec2 DIRECTIONS[8] = vec2[8](vec2(1.0, 0.0), vec2(0.7071, 0.7071), vec2(0.0, 1.0), vec2(-0.7071, 0.7071),
  vec2(-1.0, 0.0), vec2(-0.7071, -0.7071), vec2(0.0, -1.0), vec2(0.7071, -0.7071));
void main() {
  ivec2 p = ivec2(vec2(vUv.x, 1.0 - vUv.y) * uSize); // framebuffer rows run bottom-up
  float step = max(2.0, max(uSize.x, uSize.y) / 160.0);
  int near1 = 0;
  int near2 = 0;
  for (int i = 0; i < 8; i++) {
    near1 = max(near1, labelAt(p + ivec2(DIRECTIONS[i] * step)));
    near2 = max(near2, labelAt(p + ivec2(DIRECTIONS[i] * step * 2.5)));
  }
  float weight = near1 != 0 ? 0.75 : near2 != 0 ? 0.4 : 0.0;
  vec3 tint = texelFetch(uPalette, ivec2(near1 != 0 ? near1 : near2, 0), 0).rgb;
  outColor = vec4(tint * weight, weight);
}`;

/**
 * The compositing pass of one (background, highlight) pair: the pair is
 * baked in as constants so the compiler drops every other branch (software
 * GL flattens branches and would otherwise pay for all effects per pixel).
 * Blur, pixelate and glow read small textures made before this pass, so
 * their cost per pixel is one texture fetch, as for the other effects.
 */
export const compositeSource = (background: number, highlight: number, planar: boolean) => `#version 300 es
precision highp float;
precision highp int;
${videoSampling(planar)}
uniform sampler2D uLabels;
uniform sampler2D uPalette; // texel k: colour of label k, alpha 1 when its mask is stale
uniform sampler2D uBlurred; // the video at 1/16 size, blurred (background 2)
uniform sampler2D uBlocks; // the video at 1/16 size, each texel the mean of its block (background 3)
uniform sampler2D uGlow; // premultiplied glow at 1/4 size (highlight 4)
uniform vec2 uSize;
const int uBackground = ${background};
const int uHighlight = ${highlight};
in vec2 vUv;
out vec4 outColor;
${LABEL_AT}

vec3 background(vec3 c, vec2 uv) {
  if (uBackground == 1) return c * 0.25;
  if (uBackground == 2) return texture(uBlurred, uv).rgb;
  if (uBackground == 3) {
    vec2 blocks = vec2(textureSize(uBlocks, 0));
    return texture(uBlocks, (floor(uv * blocks) + 0.5) / blocks).rgb;
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
  vec3 video = videoAt(vUv);
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
      vec4 glow = texture(uGlow, vUv);
      color = color * (1.0 - glow.a) + glow.rgb;
    }
  }
  outColor = vec4(color, 1.0);
}`;
