import { createHash } from 'node:crypto';

/**
 * The page the browser shows after the redirect (docs/design.md §2, docs/security.md R25): a
 * small self-contained document, every dynamic string HTML-escaped, never the
 * code or a token, no external resources.
 */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`=/]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f6f7f9;color:#1f2328;display:flex;min-height:100vh;margin:0;align-items:center;justify-content:center}main{background:#fff;border:1px solid #d0d7de;border-radius:12px;padding:32px 40px;max-width:32rem;box-shadow:0 1px 3px rgba(0,0,0,.06)}h1{font-size:1.4rem;margin:0 0 .5rem}.ok h1{color:#1a7f37}.fail h1{color:#cf222e}p{margin:.5rem 0}code{background:#f0f2f4;padding:2px 6px;border-radius:4px}`;
export const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

export interface PageContent {
  ok: boolean;
  title: string;
  lines: string[];
}

export function renderPage({ ok, title, lines }: PageContent): string {
  const body = lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)} · auth</title><style>${STYLE}</style></head><body><main class="${ok ? 'ok' : 'fail'}"><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}
