#!/usr/bin/env node
'use strict';
// End-to-end smoke test of the vecflow.v1 contract from Node.js, against a running server:
// knowledge base -> upload -> watch parse job -> vector store -> add file -> watch job -> search.
//
//   VECFLOW_ADDRESS=127.0.0.1:50051 VECFLOW_API_KEY=vf_... node smoke.js
//
// Prints one line per step and "ok" at the end; on any failure prints "FAIL: <step>: <why>" on
// stderr and exits 1. The whole run is bounded by VECFLOW_SMOKE_TIMEOUT_SECONDS (default 120).

const crypto = require('node:crypto');
const vf = require('./vecflow');

const address = process.env.VECFLOW_ADDRESS || '';
const apiKey = process.env.VECFLOW_API_KEY || '';
const timeoutSeconds = Number(process.env.VECFLOW_SMOKE_TIMEOUT_SECONDS || 120);

const EXPECTED_PHRASE = 'Rottnest Island';
const QUERY = 'Which small marsupial lives on an island off Perth?';
const DOCUMENT = [
  'Field notes on Australian wildlife.',
  '',
  'The quokka is a small marsupial about the size of a domestic cat. Most quokkas live on ' +
    'Rottnest Island, off the coast of Perth in Western Australia, where they have few predators.',
  '',
  'Saltwater crocodiles inhabit the tidal rivers and estuaries of the Northern Territory and can ' +
    'grow to more than six metres. They are the largest living reptiles.',
  '',
  'The Great Barrier Reef, off the coast of Queensland, is the largest coral reef system in the ' +
    'world and is home to thousands of species of fish, molluscs and sea turtles.',
  '',
  'Emus are flightless birds that can run at almost fifty kilometres per hour across the dry ' +
    'inland plains. The male incubates the eggs and raises the chicks alone.',
  '',
].join('\n');

let step = 'start';
let client = null;

class SmokeFailure extends Error {}

function check(condition, message) {
  if (!condition) throw new SmokeFailure(message);
}

function log(line) {
  console.log(line);
}

function fail(message) {
  console.error(`FAIL: ${step}: ${message}`);
  process.exitCode = 1;
}

// Watches a job to the end, checking the stream's guarantees, then returns GetJob's view of it.
async function watchToEnd(jobId, label) {
  const events = [];
  let expected = 1n;
  for await (const event of vf.watchJob(client, jobId, {
    onReconnect: ({ attempt, afterSequence, error }) =>
      log(`  ${label}: stream dropped (${error.codeName}), reconnect #${attempt} after sequence ${afterSequence}`),
  })) {
    const seq = BigInt(event.sequence);
    check(seq === expected, `${label}: event sequence ${seq} where ${expected} was expected (gap or repeat)`);
    expected += 1n;
    events.push(event);
  }
  check(events.length > 0, `${label}: WatchJob ended without sending any history event`);
  const last = events[events.length - 1];
  check(
    vf.TERMINAL_JOB_STATUSES.has(last.job_status),
    `${label}: WatchJob ended after sequence ${last.sequence} whose job_status is ${last.job_status}, not terminal`,
  );
  const steps = [...new Set(events.map((e) => e.step))].join(', ');
  log(`  ${label}: ${events.length} events (${steps}), last job_status ${last.job_status}`);
  const { job } = await client.jobs.GetJob({ job_id: jobId });
  check(job && job.id === jobId, `${label}: GetJob returned ${job && job.id} for ${jobId}`);
  check(
    job.status === last.job_status,
    `${label}: GetJob says ${job.status} but the last watched event said ${last.job_status}`,
  );
  check(
    job.latest_sequence === last.sequence,
    `${label}: GetJob latest_sequence ${job.latest_sequence} but the stream ended at ${last.sequence}`,
  );
  if (job.status !== 'JOB_STATUS_SUCCEEDED') {
    const why = job.error ? `${job.error.code}: ${job.error.message}` : 'no error given';
    throw new SmokeFailure(`${label} job ${jobId} ended ${job.status} (${why})`);
  }
  return job;
}

async function main() {
  step = 'configuration';
  check(address, 'VECFLOW_ADDRESS (host:port) is not set');
  check(apiKey, 'VECFLOW_API_KEY is not set');
  const suffix = `${Date.now()}-${crypto.randomBytes(3).toString('hex')}`;

  step = 'connect';
  client = vf.connect(address, apiKey);
  try {
    await vf.waitForReady(client, 15000);
  } catch (err) {
    throw new SmokeFailure(err.message);
  }
  log(`connect: ${address}`);

  step = 'CreateKnowledgeBase';
  const { knowledge_base: kb } = await client.knowledgeBases.CreateKnowledgeBase({
    name: `node-smoke-${suffix}`,
    description: 'created by clients/node/smoke.js',
    request_id: crypto.randomUUID(),
  });
  check(kb && /^kb_[0-9a-f]{32}$/.test(kb.id), `unexpected knowledge base id ${kb && kb.id}`);
  check(kb.object === 'knowledge_base', `knowledge base object is ${JSON.stringify(kb.object)}`);
  log(`create knowledge base: ${kb.id}`);

  step = 'UploadFile';
  const content = Buffer.from(DOCUMENT, 'utf8');
  const upload = await vf.uploadFile(
    client,
    { kb_id: kb.id, name: 'wildlife.txt', content_type: 'text/plain', parse: true },
    content,
    { chunkSize: 256 }, // several chunk messages, to exercise the client stream
  );
  const file = upload.file;
  check(file && /^file_[0-9a-f]{32}$/.test(file.id), `unexpected file id ${file && file.id}`);
  check(file.kb_id === kb.id, `file.kb_id is ${file.kb_id}, expected ${kb.id}`);
  check(file.name === 'wildlife.txt', `file.name is ${JSON.stringify(file.name)}`);
  check(String(file.content_length) === String(content.length), `content_length ${file.content_length}, sent ${content.length} bytes`);
  const sha = crypto.createHash('sha256').update(content).digest('hex');
  check(file.uid === sha, `file.uid ${file.uid} is not the sha256 of the content (${sha})`);
  check(upload.parse_job && upload.parse_job.id, 'UploadFile returned no parse_job although parse was true');
  log(`upload file: ${file.id} (${content.length} bytes, parse job ${upload.parse_job.id})`);

  step = 'WatchJob (parse)';
  await watchToEnd(upload.parse_job.id, 'parse');
  const { file: parsed } = await client.knowledgeBases.GetFile({ file_id: file.id });
  check(parsed.parse_state === 'PARSE_STATE_SUCCESS', `file parse_state is ${parsed.parse_state} after the parse job`);
  check(parsed.parse_result_id, 'file has no parse_result_id after a successful parse');
  log(`parse job succeeded: parse result ${parsed.parse_result_id}`);

  step = 'CreateVectorStore';
  const { vector_store: store } = await client.vectorStores.CreateVectorStore({
    name: `node-smoke-${suffix}`,
    // Small chunks so the document is split and the search has to pick the right one.
    // (chunk_overlap_tokens 0 would mean "server default", 64, which is too large for 48.)
    chunking_strategy: { max_chunk_size_tokens: 48, chunk_overlap_tokens: 4 },
    metadata: vf.objectToStruct({ created_by: 'clients/node/smoke.js' }),
    request_id: crypto.randomUUID(),
  });
  check(store && /^vs_[0-9a-f]{32}$/.test(store.id), `unexpected vector store id ${store && store.id}`);
  const storeMetadata = vf.structToObject(store.metadata);
  check(
    storeMetadata.created_by === 'clients/node/smoke.js',
    `vector store metadata did not round-trip: ${JSON.stringify(storeMetadata)}`,
  );
  log(`create vector store: ${store.id}`);

  step = 'AddFilesToVectorStore';
  const { job: addJob } = await client.vectorStores.AddFilesToVectorStore({
    vector_store_id: store.id,
    file_ids: [file.id],
    request_id: crypto.randomUUID(),
  });
  check(addJob && addJob.id, 'AddFilesToVectorStore returned no job');
  check(
    addJob.operation === 'JOB_OPERATION_VECTOR_STORE',
    `AddFilesToVectorStore job operation is ${addJob.operation}`,
  );
  log(`add file to vector store: job ${addJob.id}`);

  step = 'WatchJob (vector store)';
  await watchToEnd(addJob.id, 'vector store');
  const { file: storeFile } = await client.vectorStores.GetVectorStoreFile({
    vector_store_id: store.id,
    file_id: file.id,
  });
  check(
    storeFile.status === 'VECTOR_STORE_FILE_STATUS_COMPLETED',
    `vector store file status is ${storeFile.status}` +
      (storeFile.last_error ? ` (${storeFile.last_error.code}: ${storeFile.last_error.message})` : ''),
  );
  check(Number(storeFile.chunk_count) > 1, `vector store file has ${storeFile.chunk_count} chunks, expected several`);
  log(`vector store job succeeded: ${storeFile.chunk_count} chunks`);

  step = 'SearchVectorStore';
  const { hits } = await client.vectorStores.SearchVectorStore({
    vector_store_id: store.id,
    query: QUERY,
    max_num_results: 3,
  });
  if (process.env.PEEK) console.log(JSON.stringify(hits.map(h => [h.score, h.text, h.position, h.chunk_index]), null, 1));
  check(Array.isArray(hits) && hits.length > 0, 'SearchVectorStore returned no hits');
  const top = hits[0];
  check(
    top.text.includes(EXPECTED_PHRASE),
    `top hit does not contain ${JSON.stringify(EXPECTED_PHRASE)}: ${JSON.stringify(top.text)}`,
  );
  check(top.file_id === file.id, `top hit file_id ${top.file_id}, expected ${file.id}`);
  check(top.file_name === 'wildlife.txt', `top hit file_name ${JSON.stringify(top.file_name)}`);
  log(`search (hybrid): ${hits.length} hits, top score ${top.score.toFixed(4)} contains "${EXPECTED_PHRASE}"`);

  step = 'SearchVectorStore (keyword)';
  const keyword = await client.vectorStores.SearchVectorStore({
    vector_store_id: store.id,
    query: 'flightless birds',
    max_num_results: 3,
    ranking_options: { mode: 'RANKING_MODE_KEYWORD' },
  });
  check(keyword.hits.length > 0, 'keyword search returned no hits');
  check(
    keyword.hits[0].text.includes('Emus'),
    `top keyword hit for "flightless birds" does not mention Emus: ${JSON.stringify(keyword.hits[0].text)}`,
  );
  log(`search (keyword): ${keyword.hits.length} hits, top hit mentions "Emus"`);

  step = 'cleanup';
  await client.vectorStores.DeleteVectorStore({ vector_store_id: store.id });
  await client.knowledgeBases.DeleteKnowledgeBase({ kb_id: kb.id });
  log('cleanup: deleted vector store and knowledge base');

  log('ok');
}

const timer = setTimeout(() => {
  fail(`timed out after ${timeoutSeconds} s (VECFLOW_SMOKE_TIMEOUT_SECONDS)`);
  process.exit(1);
}, timeoutSeconds * 1000);

main()
  .catch((err) => {
    if (err instanceof SmokeFailure || err instanceof vf.VecflowError) fail(err.message);
    else fail(err && err.stack ? err.stack : String(err));
  })
  .finally(() => {
    clearTimeout(timer);
    if (client) client.close();
  });
