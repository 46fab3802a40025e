// A stdio MCP server that serves file: resources as a Node server does:
// resources/read turns params.uri into a path with fileURLToPath (the
// WHATWG URL parser, then percent-decoding) and reads that file. Tests of
// how mcpcell reads URIs run it in a cell.
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const send = (m) => process.stdout.write(JSON.stringify(m) + "\n");
createInterface({ input: process.stdin }).on("line", (line) => {
  let m;
  try {
    m = JSON.parse(line);
  } catch {
    return;
  }
  if (m.id === undefined) return;
  const result = (r) => send({ jsonrpc: "2.0", id: m.id, result: r });
  const error = (code, message) => send({ jsonrpc: "2.0", id: m.id, error: { code, message } });
  switch (m.method) {
    case "initialize":
      return result({ protocolVersion: m.params.protocolVersion, capabilities: { resources: {} }, serverInfo: { name: "fileserver", version: "1" } });
    case "resources/read":
      try {
        const path = fileURLToPath(m.params.uri);
        return result({ contents: [{ uri: m.params.uri, mimeType: "text/plain", text: readFileSync(path, "utf8") }], _meta: { path } });
      } catch (e) {
        return error(-32002, `fileserver: ${e.message}`);
      }
    default:
      return error(-32601, "Method not found");
  }
}).on("close", () => process.exit(0));
