// A stdio MCP server on the real TypeScript SDK that serves resources
// under fixed URIs. The SDK looks a request's URI up by the href of its
// WHATWG parser, new URL(uri).href, so spellings such as
// HTTPS://EXAMPLE.COM/secret read https://example.com/secret. Tests of how
// mcpcell reads URIs of other schemes than file: run it in a cell.
import { McpServer } from "../../../testdata/node/node_modules/@modelcontextprotocol/sdk/dist/esm/server/mcp.js";
import { StdioServerTransport } from "../../../testdata/node/node_modules/@modelcontextprotocol/sdk/dist/esm/server/stdio.js";

const server = new McpServer({ name: "sdkserver", version: "1" });
for (const uri of ["https://example.com/secret", "demo://x/caf%C3%A9", "demo://x/public", "https://example.com/public"]) {
  server.registerResource(uri, uri, { mimeType: "text/plain" }, async () => ({
    contents: [{ uri, text: "CONTENT OF " + uri }],
  }));
}
await server.connect(new StdioServerTransport());
