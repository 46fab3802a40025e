// lineserver.py in Node: a stdio MCP server that reads its input with
// readline, which ends a line at "\r" as at "\n" (as the server starts
// of many Node MCP servers do). Tools: echo, delete_all, and ran, which
// lists the tools/call it ran.
import readline from "node:readline";

const ran = [];
const send = (m) => process.stdout.write(JSON.stringify(m) + "\n");
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let m;
  try {
    m = JSON.parse(line);
  } catch {
    process.stderr.write("lineserver: not a message: " + JSON.stringify(line.slice(0, 60)) + "\n");
    return;
  }
  if (m === null || typeof m !== "object" || m.id === undefined) return;
  const params = m.params || {};
  let result;
  switch (m.method) {
    case "initialize":
      result = { protocolVersion: params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "lineserver", version: "1" } };
      break;
    case "ping":
      result = {};
      break;
    case "tools/list":
      result = { tools: ["echo", "delete_all", "ran"].map((name) => ({ name, inputSchema: { type: "object" } })) };
      break;
    case "tools/call":
      ran.push(params.name);
      result = { content: [{ type: "text", text: params.name === "ran" ? ran.join(",") : "ran " + params.name + ": " + JSON.stringify(params.arguments) }] };
      break;
    default:
      return send({ jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "Method not found" } });
  }
  send({ jsonrpc: "2.0", id: m.id, result });
});
