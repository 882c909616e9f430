// Parses docs/asyncapi.yaml with the AsyncAPI parser and checks WebSocket
// frames against it:
//
//   node scripts/asyncapi/check.mjs [--doc docs/asyncapi.yaml] [--frames FILE]
//
// The document must parse without a diagnostic of error severity, and each
// message's examples must match its payload. FILE holds JSON lines, one a
// frame: {"from":"server","data":"<text>"}, {"from":"client","data":"<text>"}
// or {"from":"server","close":1009}. A server frame must match a message the
// server sends (the `send` operations and the replies), a client frame one
// it receives (the `receive` operations), and a server close code an entry
// of the channel's x-close-codes sent by the server. Exit status 1 on any
// failure, each one printed; the modules come from .cache/asyncapi
// (scripts/asyncapi.sh) unless CHATAPP_ASYNCAPI_MODULES names another folder.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const modules = process.env.CHATAPP_ASYNCAPI_MODULES || join(root, '.cache', 'asyncapi');
const require = createRequire(join(modules, 'package.json'));
const { Parser, DiagnosticSeverity } = require('@asyncapi/parser');
const Ajv = require('ajv');

const args = { doc: join(root, 'docs', 'asyncapi.yaml'), frames: '' };
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '');
  if (!(key in args) || i + 1 >= process.argv.length) {
    console.error(`usage: check.mjs [--doc FILE] [--frames FILE]; got ${process.argv[i]}`);
    process.exit(2);
  }
  args[key] = process.argv[i + 1];
}

const failures = [];
const fail = (msg) => failures.push(msg);
let checked = 0; // frames checked
const seen = {}; // frames by kind

const { document, diagnostics } = await new Parser().parse(readFileSync(args.doc, 'utf8'));
for (const d of diagnostics) {
  if (d.severity === DiagnosticSeverity.Error) {
    fail(`${args.doc}: ${d.code}: ${d.message} at ${(d.path || []).join('.')}`);
  }
}
if (!document) {
  report();
}

// The messages of each side, compiled once. A reply is sent by the server.
const ajv = new Ajv({ strict: false, allErrors: true });
// explain renders a validation's errors once each, naming an extra property.
const explain = (errors) =>
  [...new Set((errors ?? []).map((e) => `${e.instancePath || 'frame'} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`))].join('; ');
const sides = { server: new Map(), client: new Map() };
const add = (side, message) => {
  if (sides[side].has(message.id())) return;
  const schema = message.payload()?.json();
  if (!schema) {
    fail(`message ${message.id()} has no payload`);
    return;
  }
  sides[side].set(message.id(), { message, validate: ajv.compile(schema) });
};
for (const op of document.operations().all()) {
  const side = op.action() === 'send' ? 'server' : 'client';
  for (const m of op.messages().all()) add(side, m);
  for (const m of op.reply()?.messages().all() ?? []) add('server', m);
}

// Examples are part of the document: each must be what it illustrates.
for (const side of Object.values(sides)) {
  for (const [id, { message, validate }] of side) {
    for (const ex of message.examples().all()) {
      if (!validate(ex.payload())) {
        fail(`message ${id}: example ${ex.name()} does not match its payload: ${explain(validate.errors)}`);
      }
    }
  }
}

const closeCodes = [];
for (const channel of document.channels().all()) {
  const ext = channel.extensions().get('x-close-codes');
  if (ext) closeCodes.push(...ext.value());
}
if (closeCodes.length === 0) fail('no channel has x-close-codes');
const serverMaySend = (code) =>
  closeCodes.some((c) => c.sentBy === 'server' && (c.code === code || (c.range && c.range[0] <= code && code <= c.range[1])));

// matches returns the ids of the side's messages that payload matches, and
// why each other did not.
function matches(side, payload) {
  const ok = [];
  const why = [];
  for (const [id, { validate }] of sides[side]) {
    if (validate(payload)) ok.push(id);
    else why.push(`${id}: ${explain(validate.errors)}`);
  }
  return { ok, why };
}

if (args.frames) {
  const lines = readFileSync(args.frames, 'utf8').split('\n').filter((l) => l.trim() !== '');
  for (const [i, line] of lines.entries()) {
    const where = `${args.frames}:${i + 1}`;
    let frame;
    try {
      frame = JSON.parse(line);
    } catch (e) {
      fail(`${where}: not a JSON line: ${e.message}`);
      continue;
    }
    if (!(frame.from in sides)) {
      fail(`${where}: "from" must be server or client: ${line}`);
      continue;
    }
    checked++;
    if ('close' in frame) {
      if (frame.from === 'server' && !serverMaySend(frame.close)) {
        fail(`${where}: the server closed with ${frame.close}, which x-close-codes does not list as the server's`);
      }
      seen[`close ${frame.close}`] = (seen[`close ${frame.close}`] ?? 0) + 1;
      continue;
    }
    let payload;
    try {
      payload = JSON.parse(frame.data);
    } catch {
      if (frame.from === 'server') {
        fail(`${where}: the server sent a frame that is not JSON: ${JSON.stringify(frame.data).slice(0, 200)}`);
        continue;
      }
      payload = frame.data; // a client's text that is not JSON: $default takes it as it is
    }
    const { ok, why } = matches(frame.from, payload);
    if (ok.length === 0) {
      fail(`${where}: a ${frame.from} frame that matches no message of asyncapi.yaml: ${frame.data.slice(0, 300)}\n    ${why.join('\n    ')}`);
      continue;
    }
    for (const id of ok) seen[`${frame.from} ${id}`] = (seen[`${frame.from} ${id}`] ?? 0) + 1;
  }
}
report();

function report() {
  const kinds = Object.entries(seen).map(([k, n]) => `${k}: ${n}`).join(', ');
  console.log(`asyncapi: ${args.doc} ${document ? 'parsed' : 'did not parse'}; ${checked} frames checked${kinds ? ` (${kinds})` : ''}`);
  for (const f of failures) console.log(`FAIL ${f}`);
  process.exit(failures.length > 0 ? 1 : 0);
}
