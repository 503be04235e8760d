import type { ServerResponse } from 'node:http'

function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}

/**
 * A page that only says why the real one is not shown (no session, a spent link, not built).
 * Self-contained, so it needs nothing that requires a session.
 */
export function messagePage (res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>companion</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f4f5f7;color:#1d2330}
main{max-width:32rem;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px #0002}
code{background:#eef;padding:.1em .3em;border-radius:4px}</style></head>
<body><main><h1>companion</h1><p>${escapeHtml(message).replace(/`([^`]+)`/g, '<code>$1</code>')}</p></main></body></html>
`
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
  })
  res.end(body)
}
