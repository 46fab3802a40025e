// flood.js: after initialize, floods pings and never reads stdin again.
process.stderr.write('flood: pid ' + process.pid + '\n');
const send = (o) => process.stdout.write(JSON.stringify(o) + '\n');
let buf = '';
const onData = (d) => {
  buf += d;
  const i = buf.indexOf('\n');
  if (i < 0) return;
  const m = JSON.parse(buf.slice(0, i));
  process.stdin.pause();
  process.stdin.removeListener('data', onData);
  send({jsonrpc: '2.0', id: m.id, result: {protocolVersion: '2025-11-25', capabilities: {tools: {}}, serverInfo: {name: 'f', version: '1'}}});
  let n = 0;
  const go = () => { for (;;) { n++; if (!process.stdout.write(JSON.stringify({jsonrpc: '2.0', id: 'p' + n, method: 'ping'}) + '\n')) return process.stdout.once('drain', go); } };
  go();
};
process.stdin.on('data', onData);
