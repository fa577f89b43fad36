// Every GraphQL operation the UI sends, checked against the API's contract,
// demo/schema.graphql (generated from the server by `make schema`; a pytest
// keeps it current). Each operation function runs for real over a recording
// fetch / XMLHttpRequest, so the texts checked are the texts sent, fields
// filled in, variables included. Run for a current server and for one whose
// Video lacks displayName/isUpload, since the field list depends on it.
import { readFileSync } from 'node:fs';
import {
  buildSchema,
  executeSync,
  getVariableValues,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type OperationDefinitionNode,
} from 'graphql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GraphQLClient } from './graphql';
import * as operations from './operations';
import * as segmentEverything from './segmentEverything';
import * as upload from './upload';
import * as work from './work';

const SCHEMA_FILE = new URL('../../../schema.graphql', import.meta.url);
const schema = buildSchema(readFileSync(SCHEMA_FILE, 'utf8'));

/** Why the server would refuse `query` with `variables` before running it ([] when valid). */
function problems(query: string, variables: Record<string, unknown>): string[] {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (err) {
    return [`syntax: ${(err as Error).message}`];
  }
  const invalid = validate(schema, document).map((e) => e.message);
  if (invalid.length > 0) return invalid;
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const coerced = getVariableValues(schema, operation?.variableDefinitions ?? [], variables);
  return coerced.errors ? coerced.errors.map((e) => e.message) : [];
}

interface Sent {
  query: string;
  variables: Record<string, unknown>;
}

/** The Video fields a server may lack (operations.videoFields asks the schema for them). */
const OPTIONAL_VIDEO_FIELDS = ['displayName', 'isUpload'];

type Server = 'current' | 'old';

/**
 * The answer of a server with this schema (resolvers absent, so only introspection
 * yields data; anything else errors and the operation throws, which is fine: what
 * matters is what it sent). The old server's Video lacks the optional fields.
 */
function answer(sent: Sent, server: Server): object {
  if (problems(sent.query, sent.variables).length > 0) return { errors: [{ message: 'invalid' }] };
  const result = executeSync({ schema, document: parse(sent.query), variableValues: sent.variables });
  const type = (result.data as { __type?: { fields?: { name: string }[] } } | null | undefined)?.__type;
  if (server === 'old' && type?.fields) type.fields = type.fields.filter((f) => !OPTIONAL_VIDEO_FIELDS.includes(f.name));
  return result;
}

/** Fake the transports: fetch (GraphQLClient) and XMLHttpRequest (uploads). Returns what was sent. */
function recordRequests(server: Server): Sent[] {
  const sent: Sent[] = [];
  vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
    const body = JSON.parse(init.body as string) as Sent;
    const request = { query: body.query, variables: body.variables ?? {} };
    sent.push(request);
    return new Response(JSON.stringify(answer(request, server)), { status: 200, headers: { 'Content-Type': 'application/json' } });
  });
  class RecordingXhr {
    status = 0;
    responseType = '';
    responseText = '';
    upload: { onprogress?: unknown } = {};
    onload: (() => void) | null = null;
    onerror: (() => void) | null = null;
    onabort: (() => void) | null = null;
    open() {}
    setRequestHeader() {}
    abort() {}
    send(form: FormData) {
      // The multipart request spec: the server puts each file where `map` points.
      const ops = JSON.parse(form.get('operations') as string) as Sent;
      const map = JSON.parse(form.get('map') as string) as Record<string, string[]>;
      for (const paths of Object.values(map)) {
        for (const path of paths) {
          const keys = path.split('.');
          const leaf = keys.pop() as string;
          let target = ops as unknown as Record<string, unknown>;
          for (const key of keys) target = target[key] as Record<string, unknown>;
          target[leaf] = `<file ${path}>`;
        }
      }
      const request = { query: ops.query, variables: ops.variables ?? {} };
      sent.push(request);
      this.status = 200;
      this.responseText = JSON.stringify(answer(request, server));
      queueMicrotask(() => this.onload?.());
    }
  }
  vi.stubGlobal('XMLHttpRequest', RecordingXhr);
  return sent;
}

type Call = (client: GraphQLClient) => Promise<unknown>;

/** Every exported function that sends GraphQL, with sample arguments. */
const CALLS: Record<string, Call> = {
  videoFields: (c) => operations.videoFields(c),
  fetchVideos: (c) => operations.fetchVideos(c),
  fetchDefaultVideo: (c) => operations.fetchDefaultVideo(c),
  fetchServerInfo: (c) => operations.fetchServerInfo(c),
  startSession: (c) => operations.startSession(c, 'gallery/clip.mp4'),
  closeSession: (c) => operations.closeSession(c, 's1'),
  addPoints: (c) => operations.addPoints(c, 's1', 3, 1, [[0.5, 0.25]], [1]),
  addMask: (c) => operations.addMask(c, 's1', 3, 1, { size: [4, 6], counts: '0;0' }),
  addBox: (c) => operations.addBox(c, 's1', 3, 1, { x0: 0.1, y0: 0.2, x1: 0.6, y1: 0.7 }, [[0.3, 0.4]], [0]),
  clearPointsInFrame: (c) => operations.clearPointsInFrame(c, 's1', 3, 1),
  clearPointsInVideo: (c) => operations.clearPointsInVideo(c, 's1'),
  removeObject: (c) => operations.removeObject(c, 's1', 1),
  deleteMasks: (c) => operations.deleteMasks(c, 's1', 1, 4, 7),
  cancelPropagateInVideo: (c) => operations.cancelPropagateInVideo(c, 's1'),
  segmentEverything: (c) =>
    segmentEverything.segmentEverything(c, 's1', 2, { pointsPerSide: 8, minScore: 0.5, minStability: 0.8, maxObjects: 20, minArea: 10, boxNmsThresh: 0.7 }),
  fetchSegmentEverythingProgress: (c) => segmentEverything.fetchSegmentEverythingProgress(c, 's1'),
  cancelSegmentEverything: (c) => segmentEverything.cancelSegmentEverything(c, 's1'),
  fetchWork: (c) => work.fetchWork(c, 'share.abc'),
  updateObjects: (c) => work.updateObjects(c, 's1', [{ id: 1, name: 'Dog', color: '#1f77b4' }]),
  createShareLink: (c) => work.createShareLink(c, 's1', 'view'),
  revokeShareLink: (c) => work.revokeShareLink(c, 's1', 'share.abc'),
  fetchShareLinks: (c) => work.fetchShareLinks(c, 's1'),
  // As the upload flow calls it (app/uploads.ts): the fields the server's schema offers.
  uploadVideo: async (c) =>
    upload.uploadVideo(c.baseUrl, new File(['x'], 'clip.mp4', { type: 'video/mp4' }), {
      fields: await operations.videoFields(c),
      startTimeSec: 0,
      durationTimeSec: 10,
    }),
};

/** Exported functions that send no GraphQL of their own. */
const NOT_OPERATIONS = [
  'fetchSessionMasks', // GET /export_masks
  'buildUploadForm', // the form uploadVideo sends, checked through it
  'promptsFromServer', // pure conversions of fetchWork's answer
  'objectsFromServer',
];

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('operations against demo/schema.graphql', () => {
  it('covers every exported function that sends GraphQL', () => {
    const exported = [operations, segmentEverything, upload, work].flatMap((m) =>
      Object.entries(m)
        .filter(([, v]) => typeof v === 'function')
        .map(([k]) => k),
    );
    const unlisted = exported.filter((name) => !(name in CALLS) && !NOT_OPERATIONS.includes(name));
    expect(unlisted, 'add these to CALLS (or NOT_OPERATIONS) in schemaContract.test.ts').toEqual([]);
  });

  it('catches what the server would refuse', () => {
    expect(problems('query { defaultVideo { noSuchField } }', {})).not.toEqual([]);
    expect(problems('mutation M($input: StartSessionInput!) { startSession(input: $input) { sessionId } }', { input: { pathh: 'x' } })).not.toEqual([]);
    expect(problems('query {', {})).not.toEqual([]);
  });

  describe.each<[string, Server]>([
    ['a current server', 'current'],
    ['a server whose Video lacks displayName/isUpload', 'old'],
  ])('for %s', (_label, server) => {
    it.each(Object.keys(CALLS))('%s sends only valid operations', async (name) => {
      const sent = recordRequests(server);
      await CALLS[name](new GraphQLClient('http://api.invalid')).catch(() => undefined);
      expect(sent.length, `${name} sent nothing`).toBeGreaterThan(0);
      for (const request of sent) expect(problems(request.query, request.variables), request.query).toEqual([]);
    });

    it('asks for the Video fields that server has', async () => {
      const sent = recordRequests(server);
      await operations.fetchVideos(new GraphQLClient('http://api.invalid')).catch(() => undefined);
      const videos = sent.find((r) => r.query.includes('videos'));
      expect(videos?.query).toContain('durationSec');
      for (const field of OPTIONAL_VIDEO_FIELDS) {
        if (server === 'current') expect(videos?.query).toContain(field);
        else expect(videos?.query).not.toContain(field);
      }
    });
  });
});
