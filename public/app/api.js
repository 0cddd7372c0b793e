// The API from the browser: same origin, JSON, `Authorization: Bearer <jwt>`. The JWT lives in
// sessionStorage (gone with the tab, never in a URL). Errors keep the API's own shape
// ({error:{code,message,details}}) so forms show the API's validation messages.

const TOKEN_KEY = 'lnma.token';
const listeners = new Set();

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set(token) { sessionStorage.setItem(TOKEN_KEY, token); },
  clear() { sessionStorage.removeItem(TOKEN_KEY); },
  /** Called with a message when the API says the session is over (401). */
  onExpired(fn) { listeners.add(fn); },
};

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || 'HTTP ' + status);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.details = e.details;
    this.retryAfter = null;
  }
  /** Field errors as [{path, message}] (details of a 400), else []. */
  get fields() { return Array.isArray(this.details) ? this.details.filter((d) => d && d.path) : []; }
}

/** One API call; resolves to the JSON body (null for 204), throws ApiError otherwise. */
export async function api(method, path, body, extraHeaders) {
  const headers = { ...extraHeaders };
  if (session.token) headers.authorization = 'Bearer ' + session.token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { error: { code: 'network', message: 'The platform cannot be reached: check your connection.' } });
  }
  if (res.status === 204) return null;
  const json = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new ApiError(res.status, json);
    err.retryAfter = res.headers.get('retry-after');
    if (res.status === 401 && session.token && !path.startsWith('/v1/auth/')) {
      session.clear();
      for (const fn of listeners) fn('Your session ended: sign in again.');
    }
    throw err;
  }
  return json;
}

export const get = (path) => api('GET', path);
export const post = (path, body, headers) => api('POST', path, body === undefined ? {} : body, headers);
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);
/** Encodes one path segment. */
export const seg = (s) => encodeURIComponent(String(s));
