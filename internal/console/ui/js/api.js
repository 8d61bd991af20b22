// The console's JSON API, relative to the page (/console/).

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const opts = {method, headers: {}};
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('api/' + path, opts);
  } catch (e) {
    throw new ApiError(0, 'the console server cannot be reached: ' + e.message);
  }
  const text = await res.text();
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = {error: text};
  }
  if (!res.ok) {
    throw new ApiError(res.status, (data && data.error) || res.statusText, data && data.code);
  }
  return data;
}

export const get = path => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = path => api('DELETE', path);

// enc escapes one path segment (topic or group name).
export const enc = s => encodeURIComponent(s);
