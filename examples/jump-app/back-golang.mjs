// Stand-in for the jump-app back-golang service (the workload the filter is attached to).
// Usage: node examples/jump-app/back-golang.mjs [port]   (default 8442, back-golang's port)
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 8442);
createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ service: 'back-golang', path: req.url }));
}).listen(port, '127.0.0.1', () => process.stderr.write(`back-golang listening on 127.0.0.1:${port}\n`));
