// big.js N: one tools/list page of N tools named 0, 1, 2… (base 36): past
// pinning's bound of 10000 on a first listing (review 14a, F8).
const rl = require('readline').createInterface({input: process.stdin});
const send = (s) => process.stdout.write(s + '\n');
const N = +process.argv[2] || 20001;
rl.on('line', (l) => {
  const m = JSON.parse(l);
  if (m.method === 'initialize') return send(JSON.stringify({jsonrpc: '2.0', id: m.id, result: {protocolVersion: '2025-11-25', capabilities: {tools: {}}, serverInfo: {name: 'big', version: '1'}}}));
  if (m.id === undefined) return;
  if (m.method === 'tools/list') {
    const parts = [];
    for (let i = 0; i < N; i++) parts.push('{"name":"' + i.toString(36) + '"}');
    return send('{"jsonrpc":"2.0","id":' + m.id + ',"result":{"tools":[' + parts.join(',') + ']}}');
  }
  send(JSON.stringify({jsonrpc: '2.0', id: m.id, error: {code: -32601, message: 'nf'}}));
});
