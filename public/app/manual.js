// Manual controls (issue 23) on the positions view: close and add margin per trade, close all
// per account, run now per automation. Every action first asks the API for a dry run and shows
// what it would do in a modal <dialog> (Esc cancels, focus stays inside); "Confirm" sends it
// with an Idempotency-Key made once per confirmation, so a double click or a retried request
// sends one order.
import { post, seg } from './api.js';
import { el, field, fill, flash, fmt, input } from './ui.js';

/** One line per order of a dry run (or of the answer). */
function orderLine(o) {
  const what = o.action === 'add_margin' ? 'Add ' + fmt.sats(o.amountSats) + ' to'
    : o.action === 'close' ? 'Close' : o.action === 'open' ? 'Open a position' : 'Set ' + o.action + ' ' + (o.value ?? '') + ' on';
  const parts = [what + (o.tradeId ? ' trade ' + o.tradeId.slice(0, 8) : '')];
  if (o.before && o.after) parts.push('risk ' + fmt.pct(o.before.risk) + ' → ' + fmt.pct(o.after.risk) + ', liquidation ' + fmt.usd(o.before.liquidation) + ' → ' + fmt.usd(o.after.liquidation));
  else if (o.before) parts.push('risk ' + fmt.pct(o.before.risk));
  if (o.estimatedPnlSats !== undefined) parts.push('PnL about ' + fmt.signedSats(o.estimatedPnlSats));
  if (o.status !== 'planned') parts.push(o.status + (o.error ? ': ' + o.error.message : ''));
  return el('li', { 'data-order-status': o.status }, parts.join(' · '), o.warning ? el('div', { class: 'warn small' }, '⚠ ' + o.warning) : null);
}

function outcome(r) {
  return [el('p', { class: 'dry-summary' }, r.summary), r.orders.length ? el('ul', { class: 'dry-orders' }, r.orders.map(orderLine)) : el('p', { class: 'muted' }, 'No order would be sent.')];
}

/**
 * Opens a confirmation for `action`: its dry run, then Confirm / Cancel. `amount` adds a sats
 * field (add margin) whose value goes in the body; changing it previews again.
 */
export function confirmAction({ title, path, amount, confirmLabel = 'Confirm', danger = false, onDone, focusKey }) {
  const body = () => (amount ? { amountSats: Number(amountInput.value) } : {});
  const amountInput = amount ? input('amountSats', { type: 'number', min: 1, step: 1, value: amount, inputmode: 'numeric' }) : null;
  const result = el('div', { class: 'dry-result', 'aria-live': 'polite' }, 'Checking what it would do…');
  const confirm = el('button', { type: 'button', class: danger ? 'danger' : 'primary', disabled: true }, confirmLabel);
  const cancel = el('button', { type: 'button' }, 'Cancel');
  const dialog = el('dialog', { class: 'confirm', 'aria-label': title },
    el('h2', {}, title),
    amountInput ? el('form', { class: 'inline', novalidate: true, onsubmit: (e) => { e.preventDefault(); preview(); } },
      field('Amount (sats)', amountInput), el('button', { type: 'submit' }, 'Preview')) : null,
    result,
    el('div', { class: 'buttons' }, confirm, cancel));
  let key = null;
  async function preview() {
    confirm.disabled = true;
    key = null;
    fill(result, 'Checking what it would do…');
    try {
      const r = await post(path, { ...body(), dryRun: true });
      fill(result, el('p', { class: 'muted small' }, 'Dry run: nothing sent yet.'), outcome(r));
      confirm.disabled = !r.orders.length && !/\/run$/.test(path);
      key = crypto.randomUUID();
    } catch (e) {
      fill(result, el('p', { class: 'bad', role: 'alert' }, e.message));
    }
  }
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    cancel.disabled = true;
    try {
      const r = await post(path, body(), { 'idempotency-key': key || crypto.randomUUID() });
      fill(result, outcome(r));
      flash(title + ': ' + r.summary);
      dialog.close();
      if (onDone) onDone(r);
    } catch (e) {
      fill(result, el('p', { class: 'bad', role: 'alert' }, e.message));
      confirm.disabled = false;
    } finally { cancel.disabled = false; }
  });
  cancel.addEventListener('click', () => dialog.close());
  // The page redraws its cards every few seconds: focus goes back to the button's successor.
  dialog.addEventListener('close', () => { dialog.remove(); if (focusKey) focusByKey(document, focusKey); });
  document.body.appendChild(dialog);
  dialog.showModal();
  (amountInput || cancel).focus();
  preview();
  return dialog;
}

const base = (acc) => '/v1/accounts/' + seg(acc.id);

function focusByKey(root, k) {
  const e = root.querySelector('[data-focus-key="' + CSS.escape(k) + '"]');
  if (e) e.focus();
}

/**
 * Redraws `container` (the positions poll does every few seconds) without losing keyboard
 * focus: a focused control with a `data-focus-key` gets focus back in the new drawing.
 */
export function keepFocus(container, redraw) {
  const a = document.activeElement;
  const k = a && container.contains(a) && a.dataset ? a.dataset.focusKey : null;
  redraw();
  if (k) focusByKey(container, k);
}

/** A button opening a confirmation; `key` keeps its focus across redraws. */
function actionButton(label, key, attrs, opts) {
  return el('button', { type: 'button', 'data-focus-key': key, ...attrs, onclick: () => confirmAction({ ...opts, focusKey: key }) }, label);
}

/** Close / add margin buttons for one trade card. */
export function tradeActions(acc, t, refresh) {
  const trade = base(acc) + '/trades/' + seg(t.id);
  return el('div', { class: 'row-actions trade-actions' },
    actionButton('Close', 'close:' + t.id, { class: 'danger', 'data-manual': 'close' },
      { title: 'Close trade ' + t.id.slice(0, 8), path: trade + '/close', confirmLabel: 'Close trade', danger: true, onDone: refresh }),
    actionButton('Add margin', 'add-margin:' + t.id, { 'data-manual': 'add-margin' },
      { title: 'Add margin to trade ' + t.id.slice(0, 8), path: trade + '/add-margin', amount: Math.max(1000, Math.round(t.margin / 4)), confirmLabel: 'Add margin', onDone: refresh }));
}

/** Close all trades of the account. */
export function closeAllButton(acc, refresh) {
  return actionButton('Close all', 'close-all', { class: 'danger', id: 'close-all', 'data-manual': 'close-all' },
    { title: 'Close all trades on ' + acc.name, path: base(acc) + '/trades/close-all', confirmLabel: 'Close all', danger: true, onDone: refresh });
}

/** Run now (confirmed on its dry run) for one automation. */
export function runButton(acc, a, refresh) {
  return actionButton('Run now…', 'run:' + a.id, { 'data-manual': 'run', disabled: !a.enabled, title: a.enabled ? null : 'Enable it first' },
    { title: 'Run ' + (a.name || a.type) + ' now', path: base(acc) + '/automations/' + seg(a.id) + '/run', confirmLabel: 'Run now', onDone: refresh });
}
