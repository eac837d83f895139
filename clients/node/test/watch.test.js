'use strict';
// Unit tests of vecflow.js against an in-process fake server built from the same protos:
// the API key on every kind of call, watchJob's resume-after-sequence on UNAVAILABLE / ABORTED,
// and error decoding. No vecflow server needed: node --test test/watch.test.js

const test = require('node:test');
const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const vf = require('../vecflow');

const KEY = 'vf_unit_test_key_0123456789';

function event(sequence, jobStatus = 'JOB_STATUS_RUNNING') {
  return { event: { sequence: String(sequence), step: `step${sequence}`, status: 'STEP_STATUS_INFO', job_status: jobStatus } };
}

// google.rpc.Status{code, message, details: [Any(ErrorInfo{reason, domain, metadata})]}, hand-encoded.
function statusDetails(code, message, reason, metadata = {}) {
  const varint = (n) => {
    const out = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return Buffer.from(out);
  };
  const bytesField = (field, buf) => Buffer.concat([varint((field << 3) | 2), varint(buf.length), buf]);
  const str = (field, s) => bytesField(field, Buffer.from(s, 'utf8'));
  const info = Buffer.concat([
    str(1, reason),
    str(2, 'vecflow'),
    ...Object.entries(metadata).map(([k, v]) => bytesField(3, Buffer.concat([str(1, k), str(2, v)]))),
  ]);
  const any = Buffer.concat([str(1, 'type.googleapis.com/google.rpc.ErrorInfo'), bytesField(2, info)]);
  return Buffer.concat([varint(1 << 3), varint(code), str(2, message), bytesField(3, any)]);
}

function failure(code, message, reason, metadata) {
  const md = new grpc.Metadata();
  if (reason) md.set('grpc-status-details-bin', statusDetails(code, message, reason, metadata));
  return { code, details: message, metadata: md };
}

async function startFake(t, handlers) {
  const pkg = vf.loadProtos();
  const server = new grpc.Server();
  const seen = { keys: [], watchRequests: [], uploads: [] };
  const keyOf = (call) => {
    seen.keys.push(call.metadata.get('x-api-key')[0]);
  };
  server.addService(pkg.JobService.service, {
    GetJob(call, cb) {
      keyOf(call);
      if (call.request.job_id === 'job_missing') {
        cb(failure(grpc.status.NOT_FOUND, 'job job_missing not found', 'JOB_NOT_FOUND', { job_id: 'job_missing' }));
        return;
      }
      cb(null, { job: { id: call.request.job_id, status: 'JOB_STATUS_SUCCEEDED', latest_sequence: '5' } });
    },
    ListJobs: (call, cb) => cb(null, {}),
    CancelJob: (call, cb) => cb(null, {}),
    RestartJob: (call, cb) => cb(null, {}),
    WatchJob(call) {
      keyOf(call);
      seen.watchRequests.push({ ...call.request });
      handlers.watch(call, seen.watchRequests.length);
    },
  });
  server.addService(pkg.KnowledgeBaseService.service, {
    UploadFile(call, cb) {
      keyOf(call);
      const parts = [];
      call.on('data', (m) => parts.push(m));
      call.on('end', () => {
        seen.uploads.push(parts);
        const meta = parts[0].metadata;
        const body = Buffer.concat(parts.slice(1).map((p) => p.chunk));
        cb(null, { file: { id: 'file_1', kb_id: meta.kb_id, name: meta.name, content_length: String(body.length) }, parse_job: { id: 'job_p' } });
      });
    },
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = vf.connect(`127.0.0.1:${port}`, KEY);
  t.after(() => {
    client.close();
    server.forceShutdown();
  });
  return { client, seen };
}

function sendThenEnd(call, messages, error) {
  for (const m of messages) call.write(m);
  if (error) call.emit('error', error);
  else call.end();
}

test('watchJob resumes after UNAVAILABLE and ABORTED with the last sequence, yielding each event once', async (t) => {
  const { client, seen } = await startFake(t, {
    watch(call, n) {
      if (n === 1) sendThenEnd(call, [event(1), event(2), { heartbeat: { latest_sequence: '2' } }], failure(grpc.status.UNAVAILABLE, 'connection reset'));
      // The server replays from after_sequence; a repeat of 2 must not be yielded again.
      else if (n === 2) sendThenEnd(call, [event(2), event(3)], failure(grpc.status.ABORTED, 'too slow', 'WATCHER_TOO_SLOW', { resume_after_sequence: '3' }));
      else sendThenEnd(call, [event(4), event(5, 'JOB_STATUS_SUCCEEDED')]);
    },
  });
  const reconnects = [];
  const sequences = [];
  for await (const e of vf.watchJob(client, 'job_x', { onReconnect: (r) => reconnects.push(r), maxBackoffMs: 10 })) {
    sequences.push(e.sequence);
  }
  assert.deepEqual(sequences, ['1', '2', '3', '4', '5']);
  assert.deepEqual(seen.watchRequests.map((r) => [r.job_id, r.after_sequence]), [['job_x', '0'], ['job_x', '2'], ['job_x', '3']]);
  assert.deepEqual(reconnects.map((r) => [r.error.codeName, r.afterSequence]), [['UNAVAILABLE', '2'], ['ABORTED', '3']]);
  assert.equal(reconnects[1].error.reason, 'WATCHER_TOO_SLOW');
  assert.ok(seen.keys.every((k) => k === KEY) && seen.keys.length === 3);
});

test('watchJob yields heartbeats on request and starts after afterSequence', async (t) => {
  const { client, seen } = await startFake(t, {
    watch(call) {
      sendThenEnd(call, [{ heartbeat: { latest_sequence: '7', job_status: 'JOB_STATUS_RUNNING' } }, event(8, 'JOB_STATUS_FAILED')]);
    },
  });
  const items = [];
  for await (const item of vf.watchJob(client.jobs, 'job_y', { afterSequence: 7, heartbeats: true })) items.push(item);
  assert.equal(seen.watchRequests[0].after_sequence, '7');
  assert.equal(items.length, 2);
  assert.equal(items[0].heartbeat.latest_sequence, '7');
  assert.equal(items[1].sequence, '8');
});

test('watchJob throws a VecflowError on other codes, and gives up after maxAttempts', async (t) => {
  const { client } = await startFake(t, {
    watch(call) {
      if (call.request.job_id === 'job_gone') call.emit('error', failure(grpc.status.NOT_FOUND, 'job job_gone not found', 'JOB_NOT_FOUND'));
      else call.emit('error', failure(grpc.status.UNAVAILABLE, 'down'));
    },
  });
  await assert.rejects(
    async () => {
      for await (const _ of vf.watchJob(client, 'job_gone')) assert.fail('no event expected');
    },
    (err) => err instanceof vf.VecflowError && err.codeName === 'NOT_FOUND' && err.reason === 'JOB_NOT_FOUND',
  );
  await assert.rejects(
    async () => {
      for await (const _ of vf.watchJob(client, 'job_down', { maxAttempts: 2, maxBackoffMs: 5 })) assert.fail('no event expected');
    },
    (err) => err.codeName === 'UNAVAILABLE' && /gave up after 2 reconnects/.test(err.message),
  );
});

test('unary calls are promisified, carry the key, and decode ErrorInfo', async (t) => {
  const { client, seen } = await startFake(t, { watch: (call) => call.end() });
  const { job } = await client.jobs.GetJob({ job_id: 'job_ok' });
  assert.equal(job.status, 'JOB_STATUS_SUCCEEDED');
  assert.equal(job.latest_sequence, '5'); // int64 as a decimal string
  await assert.rejects(client.jobs.GetJob({ job_id: 'job_missing' }), (err) => {
    assert.equal(err.codeName, 'NOT_FOUND');
    assert.equal(err.reason, 'JOB_NOT_FOUND');
    assert.deepEqual(err.errorInfo.metadata, { job_id: 'job_missing' });
    assert.match(err.message, /^JobService\.GetJob failed: NOT_FOUND \[JOB_NOT_FOUND\]: job job_missing not found$/);
    return true;
  });
  assert.deepEqual(seen.keys, [KEY, KEY]);
});

test('uploadFile sends metadata first, then the content in chunks', async (t) => {
  const { client, seen } = await startFake(t, { watch: (call) => call.end() });
  const content = Buffer.alloc(10000, 'x');
  const res = await vf.uploadFile(client, { kb_id: 'kb_1', name: 'a.txt' }, content, { chunkSize: 4096 });
  assert.equal(res.file.content_length, '10000');
  assert.equal(res.parse_job.id, 'job_p');
  const parts = seen.uploads[0];
  assert.equal(parts[0].part, 'metadata');
  assert.equal(parts[0].metadata.name, 'a.txt');
  assert.deepEqual(parts.slice(1).map((p) => [p.part, p.chunk.length]), [['chunk', 4096], ['chunk', 4096], ['chunk', 1808]]);
  assert.deepEqual(seen.keys, [KEY]);
});

test('struct helpers survive a real encode/decode (camelCase Value members)', () => {
  const { requestSerialize, requestDeserialize } = vf.loadProtos().VectorStoreService.service.CreateVectorStore;
  const obj = { a: 1.5, b: 'two', c: true, d: null, e: [1, 'x', { h: false }], f: { g: 2 } };
  const wire = requestSerialize({ name: 'n', metadata: vf.objectToStruct(obj) });
  assert.deepEqual(vf.structToObject(requestDeserialize(wire).metadata), obj);
});
