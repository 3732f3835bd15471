// Stand-in for the jump-app back-python service: answers GET /jump and counts what it saw.
// Usage: node examples/jump-app/back-python.mjs [port]   (default 8444, back-python's Service port)
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 8444);
let jumps = 0;
createServer((req, res) => {
  if (req.url?.startsWith('/jump')) {
    jumps += 1;
    process.stderr.write(
      `back-python: ${req.method} ${req.url} #${jumps} x-request-id=${req.headers['x-request-id'] ?? '-'}\n`,
    );
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ service: 'back-python', jumps }));
    return;
  }
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jumps }));
    return;
  }
  res.writeHead(404).end();
}).listen(port, '127.0.0.1', () => process.stderr.write(`back-python listening on 127.0.0.1:${port}\n`));
