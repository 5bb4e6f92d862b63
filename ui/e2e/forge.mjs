// A stand-in for the GitHub REST API, enough for a promotion: list open pull requests by head,
// create one, update it, comment on it. It records every request so tests can check what the
// app sent.

import { createServer } from 'node:http';

export async function startForge() {
  const requests = [];
  const pulls = [];
  const server = createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const url = new URL(req.url, 'http://forge.invalid');
    const body = text ? JSON.parse(text) : null;
    requests.push({ method: req.method, path: url.pathname, query: url.searchParams, body, authorization: req.headers.authorization });
    const send = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const route = url.pathname.match(/^\/repos\/([^/]+)\/([^/]+)\/(pulls|issues)(?:\/(\d+))?(\/comments)?$/);
    if (!route) return send(404, { message: 'Not Found' });
    const [, owner, repo, collection, number, comments] = route;
    const pullUrl = (n) => `https://github.invalid/${owner}/${repo}/pull/${n}`;
    const view = (pull) => ({ number: pull.number, html_url: pullUrl(pull.number), head: { ref: pull.head }, base: { ref: pull.base } });
    const pull = pulls.find((p) => p.number === Number(number));
    if (collection === 'pulls' && !number && req.method === 'GET') {
      const head = url.searchParams.get('head');
      return send(200, pulls.filter((p) => `${owner}:${p.head}` === head).map(view));
    }
    if (collection === 'pulls' && !number && req.method === 'POST') {
      const created = { number: pulls.length + 1, title: body.title, head: body.head, base: body.base, body: body.body };
      pulls.push(created);
      return send(201, view(created));
    }
    if (collection === 'pulls' && pull && req.method === 'PATCH') {
      Object.assign(pull, { title: body.title, body: body.body });
      return send(200, view(pull));
    }
    if (collection === 'issues' && pull && comments && req.method === 'POST') return send(201, { id: requests.length });
    return send(404, { message: 'Not Found' });
  });
  await new Promise((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  return { url: `http://127.0.0.1:${server.address().port}`, requests, pulls, close: () => server.close() };
}
