// DOM helpers: no framework, no innerHTML (text is always set as text), forms that show the
// API's own validation messages beside the field they name.

/** el('button', {type: 'button', onclick}, 'text', child, ...): attributes, listeners, children. */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'value') e.value = v;
    else if (k === 'checked') e.checked = !!v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(target, ...children) {
  target.textContent = '';
  append(target, children);
  return target;
}

const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const nf1 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const nf2 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
export const fmt = {
  usd: (v) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : '$' + nf2.format(v)),
  sats: (v) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : nf0.format(v) + ' sats'),
  signedSats: (v) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : (v > 0 ? '+' : '') + nf0.format(v) + ' sats'),
  num: (v) => (v === null || v === undefined ? '—' : nf2.format(v)),
  pct: (v) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : nf1.format(v * 100) + ' %'),
  time: (ms) => (ms ? new Date(ms).toLocaleTimeString() : '—'),
  when: (ms) => (ms ? new Date(ms).toLocaleString() : '—'),
  ago: (ms) => {
    if (!ms) return '—';
    const s = Math.round((Date.now() - ms) / 1000);
    if (s < 0) return 'in ' + dur(-s);
    return dur(s) + ' ago';
  },
};
function dur(s) {
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.round(s / 60) + ' min';
  if (s < 86400) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' d';
}

/** A table inside a horizontally scrolling wrapper (narrow windows scroll, not overflow). */
export function table(headers, rows, opts = {}) {
  if (!rows.length) return el('p', { class: 'muted' }, opts.empty || 'Nothing yet.');
  return el('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': opts.label || 'table' },
    el('table', {},
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows.map((r) => el('tr', r.attrs || {}, (r.cells || r).map((c) => el('td', {}, c === null || c === undefined ? '—' : c))))),
    ));
}

let fieldSeq = 0;
/**
 * A labelled form field. `name` is the API's field path (e.g. "config.warnAt"): a 400 whose
 * details name that path shows its message under this field.
 */
export function field(label, input, hint) {
  const id = input.id || 'f' + ++fieldSeq;
  input.id = id;
  const err = el('span', { class: 'field-error', id: id + '-err', 'data-error-for': input.name || '' });
  input.setAttribute('aria-describedby', id + '-err');
  return el('div', { class: 'field' }, el('label', { for: id }, label), input, hint ? el('small', { class: 'muted' }, hint) : null, err);
}

export function input(name, attrs = {}) { return el('input', { name, ...attrs }); }
export function select(name, options, value, attrs = {}) {
  return el('select', { name, ...attrs }, options.map((o) => {
    const [v, l] = Array.isArray(o) ? o : [o, o];
    return el('option', { value: v, selected: String(v) === String(value) ? 'selected' : null }, l);
  }));
}
export function checkbox(name, label, checked) {
  const box = el('input', { type: 'checkbox', name, checked });
  return el('label', { class: 'check' }, box, ' ', label);
}

/** Clears a form's error slots. */
export function clearErrors(form) {
  form.querySelectorAll('[data-error-for]').forEach((s) => (s.textContent = ''));
  form.querySelectorAll('[aria-invalid]').forEach((i) => i.removeAttribute('aria-invalid'));
  const g = form.querySelector('.form-error');
  if (g) g.textContent = '';
}

/**
 * Shows an API error on a form: each detail under the field it names (its path, or the
 * closest parent path a field has), the message at the top; focus goes to the first bad field.
 */
export function showErrors(form, err) {
  clearErrors(form);
  const g = form.querySelector('.form-error');
  let first = null;
  const unplaced = [];
  for (const d of (err && err.fields) || []) {
    let path = String(d.path);
    let slot = null;
    while (path && !(slot = form.querySelector(`[data-error-for="${CSS.escape(path)}"]`))) path = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '';
    if (!slot) { unplaced.push(d.path + ': ' + d.message); continue; }
    slot.textContent = (slot.textContent ? slot.textContent + '; ' : '') + d.message;
    const inp = form.querySelector(`[name="${CSS.escape(path)}"]`);
    if (inp) { inp.setAttribute('aria-invalid', 'true'); first = first || inp; }
  }
  if (g) g.textContent = [err ? err.message : 'Failed', ...unplaced].join(' — ');
  (first || g)?.focus?.();
}

/** A form whose submit runs `action(form)`; the button is disabled while it runs. */
export function form(attrs, children, action) {
  const f = el('form', { novalidate: true, ...attrs }, children, el('p', { class: 'form-error', role: 'alert', tabindex: '-1' }));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    const buttons = f.querySelectorAll('button[type=submit]');
    buttons.forEach((b) => (b.disabled = true));
    try { await action(f, ev.submitter); } catch (e) { showErrors(f, e); } finally { buttons.forEach((b) => (b.disabled = false)); }
  });
  return f;
}

/** Value of a named control: numbers for type=number ('' -> undefined), booleans for checkboxes. */
export function val(f, name) {
  const i = f.elements.namedItem(name);
  if (!i) return undefined;
  if (i.type === 'checkbox') return i.checked;
  const v = String(i.value).trim();
  if (v === '') return undefined;
  if (i.type === 'number') return Number(v);
  return v;
}

let flashTimer = null;
/** A short message in the live region at the top. */
export function flash(message, kind = 'ok') {
  const f = document.getElementById('flash');
  f.className = 'flash ' + kind;
  f.textContent = message;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { f.textContent = ''; f.className = ''; }, 6000);
}

/** A section card with a heading. */
export function card(title, ...children) {
  return el('section', { class: 'card' }, title ? el('h2', {}, title) : null, ...children);
}

/** Drops undefined values (the API refuses unknown fields, not missing ones). */
export function compact(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}
