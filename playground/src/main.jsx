import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/graphiql.css';
import './playground.css';
import { exampleTabs } from './examples.js';

const CONFIG_URL = '/playground/config.json';

// GraphiQL keeps editor/tab state in localStorage. We keep the tab state in
// memory only, so every load starts from the example tabs (first one active)
// with the *current* token from config.json, never a stale one. History,
// favourites, theme and panel sizes still persist in localStorage.
const EPHEMERAL_KEYS = new Set(
  ['tabState', 'query', 'variables', 'headers', 'operationName'].map((k) => `graphiql:${k}`),
);

function createPlaygroundStorage() {
  const memory = new Map();
  let local = null;
  try {
    local = window.localStorage;
  } catch {
    local = null; // e.g. storage disabled: fall back to memory for everything
  }
  const backend = (key) => (local && !EPHEMERAL_KEYS.has(key) ? local : null);
  return {
    getItem(key) {
      const b = backend(key);
      return b ? b.getItem(key) : memory.has(key) ? memory.get(key) : null;
    },
    setItem(key, value) {
      const b = backend(key);
      if (b) b.setItem(key, value);
      else memory.set(key, String(value));
    },
    removeItem(key) {
      const b = backend(key);
      if (b) b.removeItem(key);
      else memory.delete(key);
    },
    clear() {
      memory.clear();
      if (local) {
        for (const key of Object.keys(local)) {
          if (key.startsWith('graphiql:')) local.removeItem(key);
        }
      }
    },
    get length() {
      const persisted = local ? Object.keys(local).filter((k) => k.startsWith('graphiql:')).length : 0;
      return memory.size + persisted;
    },
  };
}

/** Resolve an endpoint path (or absolute URL) against the page origin. */
function httpUrl(endpoint) {
  return new URL(endpoint || '/graphql', window.location.origin).toString();
}

/** Same, but as ws:// or wss:// depending on how the page was loaded. */
function wsUrl(endpoint) {
  const url = new URL(endpoint || '/graphql', window.location.origin);
  if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol === 'http:') url.protocol = 'ws:';
  return url.toString();
}

async function loadConfig() {
  const res = await fetch(CONFIG_URL, { headers: { accept: 'application/json' }, cache: 'no-store' });
  if (!res.ok) throw new Error(`GET ${CONFIG_URL} returned HTTP ${res.status}`);
  return res.json();
}

function Header({ url, subscriptionUrl, hasToken }) {
  return (
    <header className="pg-header">
      <span className="pg-title">ghl-baserow-gateway playground</span>
      <span className="pg-endpoint">
        talking to <code data-testid="endpoint">{url}</code>
        {' '}(subscriptions: <code>{subscriptionUrl}</code>)
        {hasToken ? ' · token prefilled in Headers' : ' · no token configured'}
      </span>
    </header>
  );
}

function App({ config }) {
  const url = httpUrl(config.endpoint);
  const subscriptionUrl = wsUrl(config.subscriptionEndpoint || config.endpoint);
  const token = typeof config.token === 'string' && config.token.length > 0 ? config.token : null;
  const headers = token ? JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2) : null;

  // GraphiQL passes the (user-edited) Headers editor content to the fetcher;
  // the toolkit sends it as HTTP headers, and for subscriptions as the
  // graphql-transport-ws connection_init payload.
  const fetcher = React.useMemo(() => createGraphiQLFetcher({ url, subscriptionUrl }), [url, subscriptionUrl]);
  const storage = React.useMemo(createPlaygroundStorage, []);
  const tabs = React.useMemo(() => exampleTabs(headers), [headers]);

  return (
    <div className="pg-root">
      <Header url={url} subscriptionUrl={subscriptionUrl} hasToken={Boolean(token)} />
      <main className="pg-main">
        <GraphiQL
          fetcher={fetcher}
          defaultTabs={tabs}
          defaultHeaders={headers ?? undefined}
          shouldPersistHeaders={false}
          isHeadersEditorEnabled
          defaultEditorToolsVisibility="headers"
          storage={storage}
        >
          <GraphiQL.Logo>ghl-baserow-gateway</GraphiQL.Logo>
        </GraphiQL>
      </main>
    </div>
  );
}

function ErrorPage({ error }) {
  return (
    <div className="pg-root">
      <header className="pg-header">
        <span className="pg-title">ghl-baserow-gateway playground</span>
      </header>
      <main className="pg-error" role="alert">
        <h2>Could not load the playground configuration</h2>
        <p>
          <code>{CONFIG_URL}</code>: {String(error && error.message ? error.message : error)}
        </p>
      </main>
    </div>
  );
}

const root = createRoot(document.getElementById('root'));
loadConfig().then(
  (config) => root.render(<App config={config} />),
  (error) => root.render(<ErrorPage error={error} />),
);
