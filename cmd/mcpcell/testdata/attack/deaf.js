// deaf.js: answers initialize, then stops reading its stdin and sends 5000
// pings: a client that answers them fills the server's input, and mcpcell's
// writes to it block (review 14a, F1).
process.stderr.write('deaf: pid ' + process.pid + '\n');
const send = (o) => process.stdout.write(JSON.stringify(o) + '\n');
process.stdin.once('data', (d) => {
  process.stdin.pause();
  const m = JSON.parse(String(d).split('\n')[0]);
  send({jsonrpc: '2.0', id: m.id, result: {protocolVersion: '2025-11-25', capabilities: {tools: {}}, serverInfo: {name: 'deaf', version: '1'}}});
  for (let i = 0; i < 5000; i++) send({jsonrpc: '2.0', id: i, method: 'ping'});
  setInterval(() => {}, 1e9);
});
