// The contract and its reference page, served outside /api/v1 and without an API key (PEAQOS_SERVE_DOCS, designed,
// on by default): GET /openapi.yaml (the file as shipped), GET /openapi.json (the same document as JSON), and
// GET /docs, a page rendered in the browser by Redoc from /openapi.json. Redoc's standalone bundle ships with the
// package (dist/docs/), so the page works without internet access.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SPEC_PATH, loadSpec } from '../contract/spec.ts';
import { packageFile } from '../paths.ts';

export const DOC_PATHS = ['/openapi.yaml', '/openapi.json', '/docs', '/docs/', '/docs/redoc.standalone.js'];

function redocBundle(): string | undefined {
  const shipped = packageFile('dist', 'docs', 'redoc.standalone.js');
  if (existsSync(shipped)) return shipped;
  try {
    return createRequire(import.meta.url).resolve('redoc/bundles/redoc.standalone.js'); // a checkout's dev dependency
  } catch {
    return undefined;
  }
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>peaqOS Machine Markets API</title>
<style>body { margin: 0; }</style>
</head>
<body>
<div id="redoc"></div>
<script src="docs/redoc.standalone.js"></script>
<script>
  Redoc.init('openapi.json', { hideDownloadButton: false, expandResponses: '200,201' }, document.getElementById('redoc'));
</script>
</body>
</html>
`;

export interface Docs {
  /** Answers a docs path; false when `path` is not one. */
  serve(path: string, req: IncomingMessage, res: ServerResponse): boolean;
}

export function createDocs(): Docs {
  let yaml: Buffer | undefined;
  let json: Buffer | undefined;
  let bundle: Buffer | null | undefined;
  const send = (res: ServerResponse, type: string, body: Buffer | string, cache = 'no-cache') => {
    res.statusCode = 200;
    res.setHeader('content-type', type);
    res.setHeader('content-length', Buffer.byteLength(body));
    res.setHeader('cache-control', cache);
    res.end(body);
  };
  return {
    serve(path, req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      if (path === '/openapi.yaml') send(res, 'application/yaml; charset=utf-8', (yaml ??= readFileSync(SPEC_PATH)));
      else if (path === '/openapi.json')
        send(res, 'application/json; charset=utf-8', (json ??= Buffer.from(JSON.stringify(loadSpec()))));
      else if (path === '/docs' || path === '/docs/') {
        // The page's relative URLs (docs/..., openapi.json) resolve from the mount point, wherever that is.
        if (path === '/docs/') {
          res.statusCode = 301;
          res.setHeader('location', '../docs');
          res.end();
        } else {
          // Nothing leaves this page: Redoc's footer logo is on a CDN, so the page's own policy keeps it local.
          res.setHeader(
            'content-security-policy',
            "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'",
          );
          send(res, 'text/html; charset=utf-8', PAGE);
        }
      } else if (path === '/docs/redoc.standalone.js') {
        if (bundle === undefined) {
          const file = redocBundle();
          bundle = file ? readFileSync(file) : null;
        }
        if (!bundle) return false;
        send(res, 'text/javascript; charset=utf-8', bundle, 'public, max-age=86400');
      } else return false;
      return true;
    },
  };
}
