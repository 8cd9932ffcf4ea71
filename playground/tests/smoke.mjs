#!/usr/bin/env node
// Smoke check of the playground in headless Chromium (Debian's /usr/bin/chromium).
//
//   GATEWAY_URL=http://127.0.0.1:8080 node tests/smoke.mjs
//
// GATEWAY_URL is the base URL of something serving the playground contract:
//   GET /playground            -> dist/index.html
//   GET /playground/app.{js,css}
//   GET /playground/config.json -> {"endpoint","subscriptionEndpoint","token"}
// It checks that GraphiQL renders (query editor + Run button), the example tabs
// are there with the first one active, and the Headers editor holds the token
// from config.json. When GATEWAY_URL is a real gateway (POST <endpoint> answers
// with JSON), it also presses Run on the first tab and waits for "contacts" in
// the result pane. Every request to a host other than the gateway's is blocked
// and fails the check. A screenshot goes to $SCREENSHOT (/tmp/playground.png).
//
// Env: GATEWAY_URL, SCREENSHOT, CHROMIUM (default /usr/bin/chromium),
//      SMOKE_RUN=1|0 to force/skip the Run step, SMOKE_TIMEOUT_MS (default 20000).
import { chromium } from 'playwright-core';

const GATEWAY_URL = (process.env.GATEWAY_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const SCREENSHOT = process.env.SCREENSHOT || '/tmp/playground.png';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = Number(process.env.SMOKE_TIMEOUT_MS || 20000);
const gateway = new URL(GATEWAY_URL);

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed += 1;
  else failed += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
  return ok;
}

/** Only the gateway itself (http or ws, same host:port) may be contacted. */
function isGatewayUrl(raw) {
  let u;
  try {
    u = new URL(raw);
  } catch {
    return false;
  }
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true;
  return u.host === gateway.host && ['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol);
}

async function fetchJson(url, init) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  return { res, body: await res.json() };
}

async function main() {
  // 1. The config the page will read.
  let config;
  try {
    ({ body: config } = await fetchJson(new URL('/playground/config.json', gateway)));
  } catch (e) {
    check('GET /playground/config.json', false, String(e));
    return;
  }
  check('GET /playground/config.json', typeof config === 'object' && config !== null, JSON.stringify({ ...config, token: config?.token ? '<set>' : null }));
  const endpoint = new URL(config.endpoint || '/graphql', gateway);

  // 2. Is this a real gateway (GraphQL answers) or a static stub?
  let realGateway = false;
  if (process.env.SMOKE_RUN === '1') realGateway = true;
  else if (process.env.SMOKE_RUN !== '0') {
    try {
      const headers = { 'content-type': 'application/json', accept: 'application/json' };
      if (config.token) headers.authorization = `Bearer ${config.token}`;
      const res = await fetch(endpoint, { method: 'POST', headers, body: '{"query":"{ __typename }"}', signal: AbortSignal.timeout(5000) });
      realGateway = (res.headers.get('content-type') || '').includes('json');
    } catch {
      realGateway = false;
    }
  }
  console.log(`info GATEWAY_URL=${GATEWAY_URL} (${realGateway ? 'real gateway: will run the first tab' : 'static stub: render checks only'})`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
    const page = await context.newPage();

    const foreign = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isGatewayUrl(url)) return route.continue();
      foreign.push(url);
      return route.abort('blockedbyclient');
    });
    page.on('websocket', (ws) => {
      if (!isGatewayUrl(ws.url())) foreign.push(ws.url());
    });
    const pageErrors = [];
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    const consoleErrors = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });

    const res = await page.goto(`${GATEWAY_URL}/playground`, { waitUntil: 'load', timeout: TIMEOUT });
    check('GET /playground', res && res.ok(), `HTTP ${res && res.status()}`);
    check('page title', (await page.title()) === 'ghl-baserow-gateway playground', await page.title());

    const rendered = await page
      .waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror', { timeout: TIMEOUT })
      .then(() => true, () => false);
    check('GraphiQL renders the query editor', rendered);
    check('Run button present', (await page.locator('button.graphiql-execute-button').count()) === 1);
    check('docs explorer button present', (await page.locator('button[aria-label="Show Documentation Explorer"]').count()) === 1);

    const headerLine = (await page.locator('.pg-header').innerText().catch(() => '')).replace(/\s+/g, ' ');
    check('header names the endpoint', headerLine.includes(endpoint.toString()), headerLine);

    const tabTitles = (await page.locator('.graphiql-tab-button').allInnerTexts()).map((t) => t.trim());
    check('example tabs', ['Contacts', 'Create', 'Op', 'Audit', 'Live'].every((t) => tabTitles.includes(t)), tabTitles.join(', '));
    const activeTab = (await page.locator('.graphiql-tab-active .graphiql-tab-button').innerText().catch(() => '')).trim();
    check('first tab (Contacts) is active', activeTab === 'Contacts', activeTab);

    // Editor contents, read through CodeMirror 5's API.
    const editors = await page.evaluate(() => {
      const value = (sel) => document.querySelector(sel)?.CodeMirror?.getValue() ?? null;
      const tools = [...document.querySelectorAll('.graphiql-editor-tools + * .CodeMirror, .graphiql-editor-tool .CodeMirror')];
      return {
        query: value('.graphiql-query-editor .CodeMirror'),
        tools: tools.map((el) => ({ value: el.CodeMirror?.getValue() ?? '', hidden: Boolean(el.closest('.hidden')) })),
      };
    });
    check('query editor holds the nested read', (editors.query || '').includes('contacts(first: 5)'));
    if (config.token) {
      const holder = editors.tools.find((t) => t.value.includes(`Bearer ${config.token}`));
      let parsed = null;
      try {
        parsed = holder && JSON.parse(holder.value);
      } catch {}
      check('headers editor holds the token', Boolean(holder && parsed && parsed.Authorization === `Bearer ${config.token}`));
      check('headers editor is the visible tool', Boolean(holder && !holder.hidden));
    } else {
      check('no token configured: headers editor holds no Authorization', !editors.tools.some((t) => t.value.includes('Authorization')));
    }

    if (realGateway) {
      await page.locator('button.graphiql-execute-button').click();
      const ok = await page
        .waitForFunction(
          () => (document.querySelector('.result-window .CodeMirror')?.CodeMirror?.getValue() ?? '').includes('"contacts"'),
          null,
          { timeout: TIMEOUT },
        )
        .then(() => true, () => false);
      const result = await page.evaluate(() => document.querySelector('.result-window .CodeMirror')?.CodeMirror?.getValue() ?? '');
      check('Run on the first tab returns "contacts"', ok, result.slice(0, 300).replace(/\s+/g, ' '));
    }

    await page.screenshot({ path: SCREENSHOT });
    console.log(`info screenshot: ${SCREENSHOT}`);

    check('no request to a host other than the gateway', foreign.length === 0, foreign.join(' '));
    check('no uncaught page errors', pageErrors.length === 0, pageErrors.join(' | '));
    if (consoleErrors.length) console.log(`info console errors (not fatal): ${consoleErrors.slice(0, 5).join(' | ')}`);
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (e) {
  check('smoke run', false, e && e.stack ? e.stack : String(e));
}
console.log(`smoke: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
