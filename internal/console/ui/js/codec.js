// Showing record keys, values and headers: the API sends them as base64;
// they are shown as text, pretty-printed JSON, or a hex dump.

export function b64ToBytes(b64) {
  if (b64 === null || b64 === undefined) return null;
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const utf8 = new TextDecoder('utf-8', {fatal: true});

// asText decodes UTF-8, or returns null for bytes that are not text.
export function asText(bytes) {
  try {
    const s = utf8.decode(bytes);
    // Control characters other than tab and line breaks mean binary.
    if (/[\u0000-\u0008\u000e-\u001f\u007f]/.test(s)) return null;
    return s;
  } catch {
    return null;
  }
}

export function asJSON(text) {
  if (text === null) return null;
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return null;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return null;
  }
}

export function hexDump(bytes) {
  const lines = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = Array.from(row, b => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, b => (b >= 0x20 && b < 0x7f) ? String.fromCharCode(b) : '.').join('');
    lines.push(off.toString(16).padStart(8, '0') + '  ' + hex.padEnd(47, ' ') + '  ' + ascii);
  }
  return lines.join('\n');
}

// show renders base64 data in mode auto, text, json or hex; it returns
// {text, kind} where kind says what was shown (null, text, json, hex).
export function show(b64, mode) {
  const bytes = b64ToBytes(b64);
  if (bytes === null) return {text: 'null', kind: 'null'};
  if (mode === 'hex') return {text: hexDump(bytes), kind: 'hex'};
  const text = asText(bytes);
  if (mode === 'text') {
    return text === null ? {text: hexDump(bytes), kind: 'hex'} : {text, kind: 'text'};
  }
  const json = asJSON(text);
  if (json !== null) return {text: json, kind: 'json'};
  if (mode === 'json' || text === null) {
    return text === null ? {text: hexDump(bytes), kind: 'hex'} : {text, kind: 'text'};
  }
  return {text, kind: 'text'};
}
