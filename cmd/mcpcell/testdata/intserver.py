# A stdio MCP server that reads JSON numbers as Python does: integers
# exactly. Its one tool, post, answers with the channel it would post to.
# Tests of [tools.args] enum run it in a cell.
import json
import sys

for line in sys.stdin:
    m = json.loads(line)
    if "id" not in m:
        continue
    method, result = m.get("method"), None
    if method == "initialize":
        result = {"protocolVersion": m["params"]["protocolVersion"], "capabilities": {"tools": {}}, "serverInfo": {"name": "intserver", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": [{"name": "post", "inputSchema": {"type": "object", "properties": {"channel": {"type": "integer"}}}}]}
    elif method == "tools/call":
        channel = m["params"]["arguments"]["channel"]
        result = {"content": [{"type": "text", "text": "posted to channel %r" % (channel,)}]}
    else:
        print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "error": {"code": -32601, "message": "Method not found"}}), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": result}), flush=True)
