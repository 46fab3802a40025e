// Reads stdin with Node's readline, as a client that reads its server's
// output that way would (it ends a line at "\r" as at "\n"), and writes
// the method of each line that is a JSON-RPC message with one, a line
// each: what such a client would act on.
import readline from "node:readline";

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  try {
    const m = JSON.parse(line);
    if (m && typeof m.method === "string") process.stdout.write(m.method + "\n");
  } catch {}
});
