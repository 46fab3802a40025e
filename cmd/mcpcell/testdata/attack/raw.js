// raw.js FILE: answers tools/list with the text of FILE, its ID replaced by
// the request's id; every other request with an error (review 14a, F5).
const fs = require('fs');
const rl = require('readline').createInterface({input: process.stdin});
const send = (s) => process.stdout.write(s + '\n');
const body = fs.readFileSync(process.argv[2], 'utf8').trim();
rl.on('line', (l) => {
  const m = JSON.parse(l);
  if (m.method === 'initialize') return send(JSON.stringify({jsonrpc: '2.0', id: m.id, result: {protocolVersion: '2025-11-25', capabilities: {tools: {}}, serverInfo: {name: 'raw', version: '1'}}}));
  if (m.id === undefined) return;
  if (m.method === 'tools/list') return send(body.replace('ID', String(m.id)));
  send(JSON.stringify({jsonrpc: '2.0', id: m.id, error: {code: -32601, message: 'nf'}}));
});
