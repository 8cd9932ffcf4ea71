#!/usr/bin/env node
// Imports contacts from a CSV file through the gateway, safely re-runnable.
//
//   GATEWAY_URL=http://127.0.0.1:8080 GATEWAY_TOKEN=<JWT> node examples/import-contacts.mjs examples/contacts.csv
//
// The CSV has a header row naming the columns first_name,last_name,email,phone (any order).
// Each row is sent as `createContact` with an `idempotencyKey` that is a hash of the row, so:
//   - a request that failed on the network or with a 5xx is retried with backoff: if the first
//     attempt did land, the retry is answered from the journal instead of creating a duplicate;
//   - running the whole import again creates nothing new: every row comes back `replayed`.
// Operations still PENDING (one system not written yet) are polled with `operation(id)` until
// they settle, for at most IMPORT_POLL_TIMEOUT_MS.
//
// Node 20+, no dependencies. Env: GATEWAY_URL, GATEWAY_TOKEN, IMPORT_MAX_ATTEMPTS (default 5),
// IMPORT_POLL_TIMEOUT_MS (default 15000). Exit status 1 when any row failed, 2 on bad usage.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

const COLUMNS = ['first_name', 'last_name', 'email', 'phone'];
const MAX_ATTEMPTS = positiveInt(process.env.IMPORT_MAX_ATTEMPTS, 5);
const POLL_TIMEOUT_MS = positiveInt(process.env.IMPORT_POLL_TIMEOUT_MS, 15000);
const REQUEST_TIMEOUT_MS = 30000;

const CREATE = `mutation Import($input: CreateContactInput!, $key: String!) {
  createContact(input: $input, idempotencyKey: $key) {
    replayed
    contact { id email }
    operation { id status ghl { outcome error } baserow { outcome error } }
  }
}`;

const OPERATION = `query Op($id: ID!) {
  operation(id: $id) { id status ghl { outcome error } baserow { outcome error } }
}`;

function positiveInt(raw, fallback) {
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function usage(message) {
  console.error(`import-contacts: ${message}`);
  console.error('usage: GATEWAY_URL=... GATEWAY_TOKEN=... node examples/import-contacts.mjs FILE.csv');
  process.exit(2);
}

/** RFC 4180 CSV: quoted fields may hold commas, newlines and doubled quotes. */
function parseCsv(text) {
  const records = [];
  let record = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records.filter((r) => r.some((f) => f.trim() !== ''));
}

/** Rows as objects keyed by the four known columns (values trimmed). */
function readRows(text) {
  const [header, ...records] = parseCsv(text.replace(/^\uFEFF/, ''));
  if (!header) throw new Error('the file is empty');
  const names = header.map((h) => h.trim().toLowerCase());
  const missing = COLUMNS.filter((c) => !names.includes(c));
  if (missing.length) throw new Error(`the header lacks column(s) ${missing.join(', ')} (have: ${names.join(', ')})`);
  return records.map((fields, index) => {
    const row = { line: index + 2 };
    for (const c of COLUMNS) row[c] = (fields[names.indexOf(c)] ?? '').trim();
    return row;
  });
}

/** The same row always hashes to the same key, whatever file or run it comes from. */
function idempotencyKey(row) {
  const canonical = JSON.stringify(COLUMNS.map((c) => row[c]));
  return `import-contact-${createHash('sha256').update(canonical).digest('hex')}`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class HttpError extends Error {
  constructor(status, body) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
    this.status = status;
  }
}

/** One POST; throws HttpError on a non-2xx answer, and whatever fetch throws on network errors. */
async function post(endpoint, token, query, variables) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new HttpError(res.status, text);
  return JSON.parse(text);
}

/**
 * POST with retries on network errors, 429 and 5xx (exponential backoff with jitter). Retrying a
 * mutation is safe only because it carries an idempotency key.
 */
async function postWithRetry(endpoint, token, query, variables) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await post(endpoint, token, query, variables);
    } catch (error) {
      const retryable = !(error instanceof HttpError) || error.status === 429 || error.status >= 500;
      if (!retryable || attempt >= MAX_ATTEMPTS) throw error;
      const delay = Math.min(8000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      console.error(`  retry ${attempt}/${MAX_ATTEMPTS - 1} in ${Math.round(delay)} ms: ${error.cause?.message ?? error.message}`);
      await sleep(delay);
    }
  }
}

function graphqlErrors(body) {
  return (body.errors ?? [])
    .map((e) => `${e.extensions?.code ? `${e.extensions.code}: ` : ''}${e.message}`)
    .join('; ');
}

/** Polls `operation(id)` while it is PENDING, until the deadline. */
async function settle(endpoint, token, operation, deadline) {
  let op = operation;
  while (op.status === 'PENDING' && Date.now() < deadline) {
    await sleep(500);
    const body = await postWithRetry(endpoint, token, OPERATION, { id: op.id });
    if (body.errors || !body.data?.operation) break;
    op = body.data.operation;
  }
  return op;
}

function classify(result) {
  if (result.error) return 'failed';
  const status = result.operation?.status;
  if (status === 'FAILED' || status === 'COMPENSATED') return 'failed';
  if (status === 'PENDING') return 'pending';
  return result.replayed ? 'replayed' : 'created';
}

function outcomeText(side) {
  if (!side) return '';
  return side.error ? `${side.outcome} (${side.error})` : side.outcome;
}

function printTable(rows) {
  const header = ['line', 'email', 'result', 'operation', 'ghl', 'baserow'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
}

async function main() {
  const [file] = process.argv.slice(2);
  if (!file) usage('give the CSV file to import');
  const base = process.env.GATEWAY_URL;
  const token = process.env.GATEWAY_TOKEN;
  if (!base) usage('GATEWAY_URL is not set (e.g. http://127.0.0.1:8080, as `demo` prints)');
  if (!token) usage('GATEWAY_TOKEN is not set (the `token: <JWT>` line the demo prints)');
  const endpoint = `${base.replace(/\/+$/, '')}/graphql`;

  let rows;
  try {
    rows = readRows(await readFile(file, 'utf8'));
  } catch (error) {
    usage(`cannot read ${file}: ${error.message}`);
  }

  const results = [];
  for (const row of rows) {
    const input = { firstName: row.first_name, lastName: row.last_name, email: row.email, phone: row.phone };
    for (const k of Object.keys(input)) if (!input[k]) delete input[k];
    const result = { row };
    try {
      const body = await postWithRetry(endpoint, token, CREATE, { input, key: idempotencyKey(row) });
      const payload = body.data?.createContact;
      if (body.errors || !payload) result.error = graphqlErrors(body) || 'no createContact in the answer';
      else Object.assign(result, { replayed: payload.replayed, operation: payload.operation });
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) {
        console.error(`import-contacts: the gateway refused the token: ${error.message}`);
        process.exit(1);
      }
      result.error = error.cause?.message ?? error.message;
    }
    results.push(result);
  }

  const deadline = Date.now() + POLL_TIMEOUT_MS;
  for (const result of results) {
    if (result.operation?.status !== 'PENDING') continue;
    try {
      result.operation = await settle(endpoint, token, result.operation, deadline);
    } catch (error) {
      console.error(`  polling ${result.operation.id} failed: ${error.message}`);
    }
  }

  const counts = { created: 0, replayed: 0, pending: 0, failed: 0 };
  const table = results.map((r) => {
    const kind = classify(r);
    counts[kind] += 1;
    return [
      r.row.line,
      r.row.email || r.row.phone || '(no email or phone)',
      r.error ? `failed: ${r.error}` : kind,
      r.operation?.id ?? '',
      outcomeText(r.operation?.ghl),
      outcomeText(r.operation?.baserow),
    ];
  });
  printTable(table);
  console.log(`summary: created=${counts.created} replayed=${counts.replayed} pending=${counts.pending} failed=${counts.failed}`);
  process.exit(counts.failed > 0 ? 1 : 0);
}

await main();
