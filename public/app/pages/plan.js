// Plan and payments: the plan in force and its limits, buying Pro with a Lightning invoice shown
// as a QR code (qrcode-generator, vendored from npm) that turns to "paid" by itself (polled).
import { get, post, seg } from '../api.js';
import { card, el, fill, flash, fmt, table } from '../ui.js';

const SVG = 'http://www.w3.org/2000/svg';

/** The invoice as an SVG QR code (one path of dark modules; no inline style, CSP-safe). */
export function qrSvg(text, size = 240) {
  const qr = qrcode(0, 'M'); // global from /vendor/qrcode.js
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  const m = 4; // quiet zone
  let d = '';
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += 'M' + (c + m) + ' ' + (r + m) + 'h1v1h-1z';
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 ' + (n + 2 * m) + ' ' + (n + 2 * m));
  svg.setAttribute('width', String(size));
  svg.setAttribute('height', String(size));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'QR code of the Lightning invoice');
  svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(SVG, 'rect');
  bg.setAttribute('width', '100%'); bg.setAttribute('height', '100%'); bg.setAttribute('fill', '#fff');
  const p = document.createElementNS(SVG, 'path');
  p.setAttribute('d', d); p.setAttribute('fill', '#000');
  svg.append(bg, p);
  return svg;
}

function limits(l) {
  return el('ul', { class: 'limits' },
    el('li', {}, l.maxAccounts + ' exchange account' + (l.maxAccounts > 1 ? 's' : '')),
    el('li', {}, 'Automations: ' + l.automationTypes.map((t) => t.replace('_', ' ')).join(', ')),
    el('li', {}, l.maxConcurrentSimulations + ' simulations at a time, ' + fmt.num(l.maxSimulationSteps) + ' steps each'));
}

const planLine = (me) => el('p', { id: 'plan-line' }, el('strong', { id: 'current-plan' }, me.plan), me.planExpiresAt ? ' until ' + fmt.when(me.planExpiresAt) : ' (no expiry)');

export async function render(main, ctx, seq) {
  const [plans, pays] = await Promise.all([get('/v1/plans'), get('/v1/payments?limit=10')]);
  if (!ctx.alive(seq)) return;
  const me = ctx.me;
  const invoice = el('div', { id: 'invoice' });
  main.append(
    card('Your plan', planLine(me)),
    el('div', { class: 'plans' }, plans.data.map((p) => card(p.name,
      el('p', { class: 'price' }, p.priceSats ? fmt.sats(p.priceSats) + ' / ' + p.durationDays + ' days' : 'Free'),
      limits(p.limits),
      p.priceSats ? el('button', { type: 'button', class: 'primary', id: 'buy-' + p.id, onclick: () => buy(p) }, me.plan === p.id ? 'Extend ' + p.durationDays + ' days' : 'Buy ' + p.name + ' with Lightning') : null))),
    invoice,
    card('Payments', table(['created', 'plan', 'amount', 'status', 'paid'], pays.data.map((p) => [fmt.when(p.createdAt), p.planId, fmt.sats(p.amountSats), p.status, fmt.when(p.paidAt)]), { label: 'payments', empty: 'No payment yet.' })),
  );

  async function buy(plan) {
    let pay;
    try { pay = await post('/v1/payments', { planId: plan.id }); } catch (e) { flash(e.message, 'bad'); return; }
    const status = el('p', { id: 'payment-status', role: 'status', class: 'pay-status' }, 'Waiting for payment…');
    const copy = el('button', { type: 'button', onclick: async () => { try { await navigator.clipboard.writeText(pay.paymentRequest); flash('Invoice copied.'); } catch { flash('Copy failed: select the text instead.', 'bad'); } } }, 'Copy invoice');
    fill(invoice, card('Pay ' + fmt.sats(pay.amountSats) + ' for ' + plan.name,
      el('div', { class: 'invoice' },
        el('a', { href: 'lightning:' + pay.paymentRequest, class: 'qr', 'aria-label': 'Open in a Lightning wallet' }, qrSvg('lightning:' + pay.paymentRequest.toUpperCase())),
        el('div', {}, status,
          el('p', { class: 'muted small' }, 'Expires ' + fmt.when(pay.expiresAt) + '. The plan turns on by itself once the invoice is paid (checked about every 30 s).'),
          el('textarea', { readonly: true, rows: 4, class: 'bolt11', 'aria-label': 'Lightning invoice' }, pay.paymentRequest),
          el('div', { class: 'buttons' }, copy,
            ctx.dev ? el('button', { type: 'button', id: 'dev-pay', onclick: async (ev) => { ev.target.disabled = true; try { await post('/__dev/sim/invoices/' + seg(pay.paymentHash) + '/pay'); flash('Paid with the simulator\'s wallet: waiting for the platform to see it.'); } catch (e) { flash(e.message, 'bad'); ev.target.disabled = false; } } }, 'Pay with the simulator (dev)') : null)))));
    invoice.scrollIntoView({ block: 'nearest' });
    const poll = async () => {
      const p = await get('/v1/payments/' + seg(pay.id));
      if (p.status === 'pending') return;
      status.textContent = p.status === 'paid' ? 'Paid ✓ — ' + plan.name + ' is active.' : 'Invoice ' + p.status + '.';
      status.className = 'pay-status ' + (p.status === 'paid' ? 'ok' : 'bad');
      status.dataset.status = p.status;
      if (p.status === 'paid') { await ctx.reload(); main.querySelector('#plan-line').replaceWith(planLine(ctx.me)); flash(plan.name + ' is active.'); }
      clearInterval(timer);
    };
    const timer = setInterval(() => { if (ctx.alive(seq)) poll().catch(() => {}); else clearInterval(timer); }, 3000);
  }
}
