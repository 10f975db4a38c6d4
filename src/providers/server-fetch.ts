/** The fetch openid-client calls (its `customFetch`). */
export type ServerFetch = (url: string, init: { method: string; headers: Record<string, string>; body?: unknown; redirect?: 'manual'; signal?: AbortSignal | null }) => Promise<Response>;
