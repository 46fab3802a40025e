// An honest server on the real TypeScript SDK: a tool that returns the
// headers of an HTTP response as structured content. Real responses
// repeat a header in two cases (Set-Cookie from the origin, set-cookie
// from a proxy), so the object has names that differ only in case. The
// SDK writes a response as {result, jsonrpc, id}: the id after the part
// strict decoding refuses.
import { McpServer } from "../../../testdata/node/node_modules/@modelcontextprotocol/sdk/dist/esm/server/mcp.js";
import { StdioServerTransport } from "../../../testdata/node/node_modules/@modelcontextprotocol/sdk/dist/esm/server/stdio.js";

const server = new McpServer({ name: "headerserver", version: "1" });
server.registerTool("fetch_headers", { description: "headers of a URL" }, async () => ({
  content: [{ type: "text", text: "headers attached" }],
  structuredContent: { "Set-Cookie": "a=1", "set-cookie": "b=2", server: "nginx" },
}));
server.registerTool("fetch_headers_plain", { description: "the same without a repeated header" }, async () => ({
  content: [{ type: "text", text: "headers attached" }],
  structuredContent: { "Set-Cookie": "a=1", server: "nginx" },
}));
await server.connect(new StdioServerTransport());
