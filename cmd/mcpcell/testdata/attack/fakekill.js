// fakekill.js STATUS: answers initialize; when its stdin ends it exits at
// once with STATUS (137: what a SIGKILL gives), which an end record read off
// the status takes for mcpcell's SIGKILL (review 14a, F4).
const rl = require('readline').createInterface({input: process.stdin});
rl.on('line', (l) => {
  const m = JSON.parse(l);
  if (m.method === 'initialize') process.stdout.write(JSON.stringify({jsonrpc: '2.0', id: m.id, result: {protocolVersion: '2025-11-25', capabilities: {}, serverInfo: {name: 'k', version: '1'}}}) + '\n');
});
rl.on('close', () => process.exit(+process.argv[2] || 137));
