'use strict';
// A tiny Node.js client for the vecflow.v1 gRPC contract.
//
// The .proto files are loaded at runtime from ../../proto (or VECFLOW_PROTO_DIR) with
// @grpc/proto-loader, so this client always speaks the contract that is in the tree: a change
// to proto/ that breaks JS callers shows up here without a code-generation step.
//
//   const vf = require('./vecflow');
//   const client = vf.connect('127.0.0.1:50051', 'vf_...');
//   const { knowledge_base } = await client.knowledgeBases.CreateKnowledgeBase({ name: 'docs' });
//   for await (const event of vf.watchJob(client, jobId)) console.log(event.sequence, event.step);
//   client.close();
//
// Message shapes follow proto-loader with keepCase (snake_case field names), int64 as decimal
// strings, enums as their names ('JOB_STATUS_SUCCEEDED'), defaults filled in, and the name of
// the set member of each oneof on the oneof's own name (WatchJobResponse.kind === 'event').

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.resolve(process.env.VECFLOW_PROTO_DIR || path.join(__dirname, '..', '..', 'proto'));
const PACKAGE_DIR = path.join('vecflow', 'v1');

const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  // google/protobuf/*.proto (struct, timestamp, field_mask) resolve from protobufjs's bundled
  // well-known types; vecflow's own imports resolve from PROTO_DIR.
  includeDirs: [PROTO_DIR],
};

const TERMINAL_JOB_STATUSES = new Set(['JOB_STATUS_SUCCEEDED', 'JOB_STATUS_FAILED', 'JOB_STATUS_CANCELLED']);

// Codes on which watchJob reconnects with the last sequence it saw.
const RESUMABLE_CODES = new Set([grpc.status.UNAVAILABLE, grpc.status.ABORTED]);

// Property name on the connect() result -> service name in vecflow.v1.
const SERVICES = {
  jobs: 'JobService',
  knowledgeBases: 'KnowledgeBaseService',
  parse: 'ParseService',
  vectorStores: 'VectorStoreService',
  upsertionTasks: 'UpsertionTaskService',
};

let cachedPackage = null;

/** The loaded vecflow.v1 package (service constructors and message types), loaded once. */
function loadProtos() {
  if (cachedPackage) return cachedPackage;
  const dir = path.join(PROTO_DIR, PACKAGE_DIR);
  let files;
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.proto')).sort();
  } catch (err) {
    throw new Error(`vecflow: cannot read the protos in ${dir} (${err.message}); set VECFLOW_PROTO_DIR`);
  }
  if (files.length === 0) throw new Error(`vecflow: no .proto files in ${dir}`);
  const definition = protoLoader.loadSync(
    files.map((f) => path.posix.join('vecflow', 'v1', f)),
    LOADER_OPTIONS,
  );
  const loaded = grpc.loadPackageDefinition(definition);
  cachedPackage = loaded.vecflow && loaded.vecflow.v1;
  if (!cachedPackage) throw new Error('vecflow: the protos do not define package vecflow.v1');
  return cachedPackage;
}

// --- errors ------------------------------------------------------------------------------------

// Minimal protobuf wire reader, enough for google.rpc.Status / Any / ErrorInfo in
// grpc-status-details-bin (proto-loader does not ship google/rpc/*.proto).
function readFields(buf) {
  const fields = [];
  let pos = 0;
  const varint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const byte = buf[pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ field, value: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new Error('truncated field');
      fields.push({ field, value: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return fields;
}

/** {reason, domain, metadata} from a gRPC error's google.rpc.ErrorInfo detail, or null. */
function errorInfo(err) {
  const md = err && err.metadata;
  if (!md || typeof md.get !== 'function') return null;
  const [raw] = md.get('grpc-status-details-bin');
  if (!raw) return null;
  try {
    for (const detail of readFields(Buffer.from(raw))) {
      if (detail.field !== 3 || !Buffer.isBuffer(detail.value)) continue; // Status.details (Any)
      const any = readFields(detail.value);
      const typeUrl = String(any.find((f) => f.field === 1)?.value || '');
      if (!typeUrl.endsWith('/google.rpc.ErrorInfo')) continue;
      const info = { reason: '', domain: '', metadata: {} };
      const body = any.find((f) => f.field === 2)?.value || Buffer.alloc(0);
      for (const f of readFields(body)) {
        if (f.field === 1) info.reason = f.value.toString('utf8');
        else if (f.field === 2) info.domain = f.value.toString('utf8');
        else if (f.field === 3) {
          const entry = readFields(f.value);
          const k = entry.find((e) => e.field === 1)?.value?.toString('utf8') ?? '';
          const v = entry.find((e) => e.field === 2)?.value?.toString('utf8') ?? '';
          info.metadata[k] = v;
        }
      }
      return info;
    }
  } catch {
    return null; // undecodable details: fall back to code and message
  }
  return null;
}

const STATUS_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));

/** A failed call: `code` (number), `codeName` ('UNAUTHENTICATED'), `reason` (ErrorInfo), `details`. */
class VecflowError extends Error {
  constructor(rpc, err) {
    const info = errorInfo(err);
    const codeName = STATUS_NAMES[err.code] || `code ${err.code}`;
    const reason = info && info.reason ? ` [${info.reason}]` : '';
    super(`${rpc} failed: ${codeName}${reason}: ${err.details || err.message}`);
    this.name = 'VecflowError';
    this.rpc = rpc;
    this.code = err.code;
    this.codeName = codeName;
    this.details = err.details || '';
    this.reason = info ? info.reason : '';
    this.errorInfo = info;
    this.metadata = err.metadata;
    this.cause = err;
  }
}

// --- connecting --------------------------------------------------------------------------------

function apiKeyInterceptor(apiKey) {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('x-api-key', apiKey);
        next(metadata, listener);
      },
    });
}

function deadlineAfter(ms) {
  return ms > 0 ? new Date(Date.now() + ms) : Infinity;
}

/**
 * Promisified unary methods of one service client: `service.Method(request, {timeoutMs})`
 * resolves with the response or rejects with a VecflowError. `service.raw` is the grpc-js client,
 * for the streaming methods.
 */
function wrapService(serviceName, ServiceCtor, rawClient, defaultTimeoutMs) {
  const wrapped = { raw: rawClient };
  for (const [method, def] of Object.entries(ServiceCtor.service)) {
    if (def.requestStream || def.responseStream) continue;
    const rpc = `${serviceName}.${method}`;
    wrapped[method] = (request = {}, { timeoutMs = defaultTimeoutMs, metadata } = {}) =>
      new Promise((resolve, reject) => {
        rawClient[method](
          request,
          metadata || new grpc.Metadata(),
          { deadline: deadlineAfter(timeoutMs) },
          (err, response) => (err ? reject(new VecflowError(rpc, err)) : resolve(response)),
        );
      });
  }
  return wrapped;
}

/**
 * Connects to a vecflow server (insecure by default; pass {credentials} for TLS). Every call
 * carries `x-api-key: apiKey`. Returns {jobs, knowledgeBases, parse, vectorStores,
 * upsertionTasks, channel, close()}, each service with promisified unary methods and `.raw`.
 */
function connect(address, apiKey, { credentials, timeoutMs = 30000, channelOptions = {} } = {}) {
  if (!address) throw new Error('vecflow.connect: address (host:port) is required');
  if (!apiKey) throw new Error('vecflow.connect: apiKey is required');
  const pkg = loadProtos();
  const creds = credentials || grpc.credentials.createInsecure();
  const channel = new grpc.Channel(address, creds, channelOptions);
  const clientOptions = { channelOverride: channel, interceptors: [apiKeyInterceptor(apiKey)] };
  const result = {
    address,
    channel,
    close() {
      channel.close();
    },
  };
  for (const [prop, serviceName] of Object.entries(SERVICES)) {
    const Ctor = pkg[serviceName];
    if (!Ctor) throw new Error(`vecflow: the protos define no service vecflow.v1.${serviceName}`);
    const raw = new Ctor(address, creds, clientOptions);
    result[prop] = wrapService(serviceName, Ctor, raw, timeoutMs);
  }
  return result;
}

/** Resolves when the channel is connected, or rejects after timeoutMs. */
function waitForReady(client, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    client.jobs.raw.waitForReady(deadlineAfter(timeoutMs), (err) =>
      err ? reject(new Error(`vecflow: ${client.address} not reachable within ${timeoutMs} ms: ${err.message}`)) : resolve(),
    );
  });
}

// --- streaming helpers -------------------------------------------------------------------------

function rawJobService(client) {
  if (client && client.jobs && client.jobs.raw) return client.jobs.raw; // connect() result
  if (client && client.raw && typeof client.raw.WatchJob === 'function') return client.raw; // wrapped service
  if (client && typeof client.WatchJob === 'function') return client; // grpc-js JobService client
  throw new TypeError('watchJob: expected the result of connect() or a JobService client');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Async iterator over a job's history events, each yielded exactly once in sequence order,
 * until the server ends the stream after the terminal event. When the stream fails with
 * UNAVAILABLE or ABORTED (e.g. WATCHER_TOO_SLOW) it reconnects with after_sequence set to the
 * last sequence yielded, backing off, and gives up after maxAttempts failures in a row (the
 * counter resets whenever a message arrives). Other errors are thrown as VecflowError.
 * With {heartbeats: true} heartbeats are yielded too, as {heartbeat: {...}}.
 * `onReconnect({attempt, afterSequence, error})` is called before each reconnect.
 */
async function* watchJob(
  client,
  jobId,
  { afterSequence = 0, heartbeats = false, maxAttempts = 10, maxBackoffMs = 5000, onReconnect } = {},
) {
  const raw = rawJobService(client);
  let last = BigInt(afterSequence);
  let failures = 0;
  for (;;) {
    const call = raw.WatchJob({ job_id: jobId, after_sequence: last.toString() });
    try {
      for await (const message of call) {
        failures = 0;
        if (message.kind === 'event' && message.event) {
          const seq = BigInt(message.event.sequence);
          if (seq <= last) continue; // replayed after a reconnect: already yielded
          last = seq;
          yield message.event;
        } else if (message.kind === 'heartbeat' && heartbeats) {
          yield { heartbeat: message.heartbeat };
        }
      }
      return; // OK: the job reached a terminal status
    } catch (err) {
      if (typeof err.code !== 'number') throw err;
      failures += 1;
      if (!RESUMABLE_CODES.has(err.code) || failures > maxAttempts) {
        const wrapped = new VecflowError('JobService.WatchJob', err);
        if (failures > maxAttempts) wrapped.message += ` (gave up after ${maxAttempts} reconnects)`;
        throw wrapped;
      }
      if (onReconnect) onReconnect({ attempt: failures, afterSequence: last.toString(), error: new VecflowError('JobService.WatchJob', err) });
      const delay = Math.min(maxBackoffMs, 50 * 2 ** Math.min(failures, 10));
      await sleep(delay * (0.5 + Math.random() / 2));
    } finally {
      call.cancel(); // no-op once the stream has ended; stops it when the caller breaks out
    }
  }
}

/**
 * Uploads one file with the client-streaming UploadFile: `metadata` first ({kb_id, name, ...}),
 * then `content` (Buffer or string) in chunks of chunkSize bytes, honouring backpressure.
 * Resolves with the UploadFileResponse {file, parse_job}; rejects with a VecflowError.
 */
function uploadFile(client, metadata, content, { chunkSize = 64 * 1024, timeoutMs = 60000 } = {}) {
  const raw = client.knowledgeBases ? client.knowledgeBases.raw : client.raw || client;
  const data = Buffer.isBuffer(content) ? content : Buffer.from(String(content), 'utf8');
  return new Promise((resolve, reject) => {
    let finished = false;
    const call = raw.UploadFile({ deadline: deadlineAfter(timeoutMs) }, (err, response) => {
      finished = true;
      if (err) reject(new VecflowError('KnowledgeBaseService.UploadFile', err));
      else resolve(response);
    });
    call.on('error', () => {}); // the outcome, errors included, arrives through the callback
    let offset = 0;
    const pump = () => {
      if (finished) return; // the server already answered (e.g. rejected the metadata)
      while (offset < data.length) {
        const piece = data.subarray(offset, offset + chunkSize);
        offset += piece.length;
        if (!call.write({ chunk: piece })) {
          call.once('drain', pump);
          return;
        }
      }
      call.end();
    };
    if (call.write({ metadata })) pump();
    else call.once('drain', pump);
  });
}

// google.protobuf.Struct helpers. NB: unlike vecflow's own messages, the well-known types come
// from protobufjs's bundled definitions, so keepCase does not apply to them: Value's members
// are camelCase (numberValue, structValue, ...) and `kind` names the one that is set.

/** A google.protobuf.Struct (as proto-loader decodes it) as a plain JS object. */
function structToObject(struct) {
  if (!struct || !struct.fields) return {};
  return Object.fromEntries(Object.entries(struct.fields).map(([k, v]) => [k, valueToJs(v)]));
}

function valueToJs(value) {
  if (!value || !value.kind) return null;
  const v = value[value.kind];
  switch (value.kind) {
    case 'structValue':
      return structToObject(v);
    case 'listValue':
      return ((v && v.values) || []).map(valueToJs);
    case 'nullValue':
      return null;
    default:
      return v; // numberValue, stringValue, boolValue
  }
}

function jsToValue(v) {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsToValue) } };
  if (typeof v === 'object') return { structValue: objectToStruct(v) };
  throw new TypeError(`objectToStruct: cannot encode a ${typeof v}`);
}

/** A plain JS object (JSON-like values) as a google.protobuf.Struct for requests. */
function objectToStruct(obj) {
  return { fields: Object.fromEntries(Object.entries(obj || {}).map(([k, v]) => [k, jsToValue(v)])) };
}

module.exports = {
  PROTO_DIR,
  TERMINAL_JOB_STATUSES,
  VecflowError,
  connect,
  errorInfo,
  loadProtos,
  objectToStruct,
  structToObject,
  uploadFile,
  waitForReady,
  watchJob,
};
