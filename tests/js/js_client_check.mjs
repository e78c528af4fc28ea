#!/usr/bin/env node
// js_client_check.mjs - drive a kernel with the real JupyterLab client library
// (@jupyterlab/services KernelManager + ServerConnection) from Node:
// start a kernel, run print(6*7), expect "42" on stdout, shut it down.
//
//   npm ci                            # in this folder: the pinned packages into ./node_modules
//   node js_client_check.mjs --base-url http://127.0.0.1:8888/ --token TOKEN
//
// tests/lms_kernels/test_jupyter_clients.py runs it against the example project; it started as
// the benchmark's independent client check (shared bench, js_client_check.mjs).
//
// Options:
//   --base-url URL     server root; @jupyterlab/services appends "api/kernels" itself,
//                      so for /lms/api/kernels pass http://host:port/lms/
//   --token T          "Authorization: token T" on HTTP; on the websocket the library
//                      (running outside a browser) appends ?token=T to the URL
//   --cookie C         raw Cookie header for HTTP and the websocket handshake
//                      (csrftoken/_xsrf values are echoed as X-CSRFToken/X-XSRFToken)
//   --protocol MODE    auto: what a browser does - offer the v1.kernel.websocket.jupyter.org
//                            subprotocol and use the JSON protocol if the server picks none
//                      v1:   offer v1 and fail unless the server selects it
//                      json: offer no subprotocol (default JSON text frames)   [default auto]
//   --kernel-name K    [python3]
//   --modules DIR      folder whose node_modules holds the packages [this file's folder]
//   --timeout S        overall limit in seconds [60]
// Exit status 0 and a final JSON line {"ok": true, ...} on success, 1 otherwise.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const opts = {
  'base-url': 'http://127.0.0.1:8888/',
  token: process.env.KERNEL_BENCH_TOKEN || '',
  cookie: process.env.KERNEL_BENCH_COOKIE || '',
  protocol: 'auto',
  'kernel-name': 'python3',
  modules: here,
  timeout: '60'
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const m = /^--([\w-]+)(?:=(.*))?$/.exec(argv[i]);
  if (!m || !(m[1] in opts)) {
    console.error(`unknown argument ${argv[i]}`);
    process.exit(2);
  }
  opts[m[1]] = m[2] !== undefined ? m[2] : argv[++i];
}
if (!['auto', 'v1', 'json'].includes(opts.protocol)) {
  console.error('--protocol must be auto, v1 or json');
  process.exit(2);
}

const t0 = Date.now();
const result = { ok: false, base_url: opts['base-url'], protocol_mode: opts.protocol };
const finish = (ok, extra) => {
  Object.assign(result, extra, { ok, elapsed_ms: Date.now() - t0 });
  console.log(JSON.stringify(result));
  process.exit(ok ? 0 : 1);
};
const timer = setTimeout(
  () => finish(false, { error: `timeout after ${opts.timeout}s` }),
  Number(opts.timeout) * 1000
);

const require = createRequire(path.join(path.resolve(opts.modules), 'package.json'));
let services, WS;
try {
  services = require('@jupyterlab/services');
  WS = require('ws');
} catch (e) {
  finish(false, { error: `cannot load @jupyterlab/services / ws from ${opts.modules}: ${e.message}` });
}
const { KernelManager, ServerConnection } = services;
result.versions = {
  node: process.versions.node,
  '@jupyterlab/services': require('@jupyterlab/services/package.json').version,
  ws: require('ws/package.json').version
};

// Extra headers (cookie auth, CSRF) for fetch and for the websocket handshake.
const extraHeaders = {};
if (opts.cookie) {
  extraHeaders['Cookie'] = opts.cookie;
  for (const part of opts.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'csrftoken') extraHeaders['X-CSRFToken'] = v.join('=');
    if (k === '_xsrf') extraHeaders['X-XSRFToken'] = v.join('=');
  }
}
const origin = new URL(opts['base-url']).origin;

// A WebSocket class for the library: Node 20 has none built in, so wrap `ws`,
// adding the headers a browser would send and applying --protocol.
const sockets = [];
class CheckedWebSocket extends WS {
  constructor(url, protocols) {
    const offered = opts.protocol === 'json' ? [] : protocols || [];
    super(url, offered, { headers: { Origin: origin, ...extraHeaders } });
    this._offered = offered;
    sockets.push(this);
  }
}

// `ws` (unlike browsers) fails the handshake when subprotocols were offered and the
// server selected none ("Server sent no subprotocol").  @jupyterlab/services then
// reconnects by itself without subprotocols (JSON protocol); we only record that.
class AutoWebSocket extends CheckedWebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    if (opts.protocol !== 'auto' || !this._offered.length) return;
    this.on('error', err => {
      if (/no subprotocol/i.test(String(err && err.message))) {
        result.subprotocol_fallback = true;
      }
    });
  }
}

const settings = ServerConnection.makeSettings({
  baseUrl: opts['base-url'],
  token: opts.token,
  appendToken: true,
  WebSocket: opts.protocol === 'auto' ? AutoWebSocket : CheckedWebSocket,
  init: { cache: 'no-store', credentials: 'same-origin', headers: extraHeaders }
});

try {
  const km = new KernelManager({ serverSettings: settings });
  await km.ready;
  const kernel = await km.startNew({ name: opts['kernel-name'] });
  result.kernel_id = kernel.id;
  const info = await kernel.info;
  result.kernel_implementation = `${info.implementation} ${info.implementation_version}`;
  const future = kernel.requestExecute({ code: 'print(6*7)' });
  let stdout = '';
  const seen = [];
  future.onIOPub = msg => {
    seen.push(msg.header.msg_type);
    if (msg.header.msg_type === 'stream' && msg.content.name === 'stdout') {
      stdout += msg.content.text;
    }
  };
  const reply = await future.done;
  const ws = sockets[sockets.length - 1];
  result.ws_protocol_selected = ws ? ws.protocol || '(none: JSON text frames)' : null;
  result.stdout = stdout;
  result.iopub = seen;
  if (reply.content.status !== 'ok') {
    throw new Error(`execute_reply status ${reply.content.status}: ${JSON.stringify(reply.content)}`);
  }
  if (stdout.trim() !== '42') {
    throw new Error(`expected stdout "42", got ${JSON.stringify(stdout)}`);
  }
  if (opts.protocol === 'v1' && ws.protocol !== 'v1.kernel.websocket.jupyter.org') {
    throw new Error(`server did not select v1.kernel.websocket.jupyter.org (got "${ws.protocol}")`);
  }
  await kernel.shutdown();
  const left = await services.KernelAPI.listRunning(settings);
  if (left.some(k => k.id === result.kernel_id)) {
    throw new Error('kernel still listed after shutdown');
  }
  km.dispose();
  clearTimeout(timer);
  finish(true, {});
} catch (e) {
  clearTimeout(timer);
  finish(false, { error: String((e && e.stack) || e) });
}
