# A stdio MCP server that reads its input as the official Python SDK's
# stdio_server does (mcp/server/stdio.py): a TextIOWrapper over
# stdin.buffer, encoding utf-8, read line by line. Its newline=None is
# universal newlines: "\r" ends a line as "\n" does. Tools: echo,
# delete_all, and ran, which lists the tools/call it ran.
import io
import json
import sys

stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8")
ran = []


def send(m):
    print(json.dumps(m), flush=True)


for line in stdin:
    try:
        m = json.loads(line)
    except ValueError:
        print("lineserver: not a message: %r" % line[:60], file=sys.stderr, flush=True)
        continue
    if not isinstance(m, dict) or "id" not in m:
        continue
    method, params, result = m.get("method"), m.get("params") or {}, None
    if method == "initialize":
        result = {"protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}}, "serverInfo": {"name": "lineserver", "version": "1"}}
    elif method == "ping":
        result = {}
    elif method == "tools/list":
        result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in ("echo", "delete_all", "ran")]}
    elif method == "tools/call":
        name = params.get("name")
        ran.append(name)
        text = ",".join(ran) if name == "ran" else "ran %s: %s" % (name, json.dumps(params.get("arguments"), ensure_ascii=False))
        result = {"content": [{"type": "text", "text": text}]}
    else:
        send({"jsonrpc": "2.0", "id": m["id"], "error": {"code": -32601, "message": "Method not found"}})
        continue
    send({"jsonrpc": "2.0", "id": m["id"], "result": result})
