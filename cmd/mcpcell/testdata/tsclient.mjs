// The real TypeScript SDK client calls one tool of a server and writes
// {"result": …} or {"error": "…"} on stdout. The SDK writes a request as
// {method, params, jsonrpc, id}: the id after the part strict decoding
// may refuse. A call waits 10 s: a test that sees the timeout has failed.
//   node tsclient.mjs TOOL ARGUMENTS_JSON COMMAND ARGS...
import { Client } from "../../../testdata/node/node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js";
import { StdioClientTransport } from "../../../testdata/node/node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.js";

const [tool, args, command, ...rest] = process.argv.slice(2);
const transport = new StdioClientTransport({ command, args: rest, env: process.env, stderr: "inherit" });
const client = new Client({ name: "tsclient", version: "1" });
await client.connect(transport);
let out;
try {
  out = { result: await client.callTool({ name: tool, arguments: JSON.parse(args) }, undefined, { timeout: 10000 }) };
} catch (e) {
  out = { error: String(e.message) };
}
process.stdout.write(JSON.stringify(out) + "\n");
await client.close();
