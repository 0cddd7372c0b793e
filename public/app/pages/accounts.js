// Exchange accounts: connect one (network, key, secret, passphrase), validated live right after
// it is saved; on the dev stack "Use simulator keys" fills in fresh paper-trading keys.
import { del, patch, post, seg } from '../api.js';
import { card, el, field, flash, form, input, select, table, val } from '../ui.js';

export async function render(main, ctx) {
  if (!ctx.accounts.length) main.appendChild(el('p', { class: 'lead' }, 'Connect your LN Markets account to start: create an API key on LN Markets with the trading scopes, then paste it here.'));
  main.appendChild(connectCard(ctx));
  if (ctx.accounts.length) main.appendChild(card('Your accounts', table(['name', 'network', 'status', 'feed', 'automations', ''], ctx.accounts.map((a) => [
    el('span', {}, a.name, a.active ? el('span', { class: 'tag' }, 'active') : null),
    a.network, a.status, a.feed || '—', a.automations.enabled + ' on / ' + a.automations.total,
    el('span', { class: 'row-actions' },
      a.active ? null : el('button', { type: 'button', onclick: async () => { await post('/v1/accounts/' + seg(a.id) + '/activate'); ctx.pickAccount(a.id); flash(a.name + ' is now active: its automations run.'); await ctx.reload(); ctx.go('#/accounts'); } }, 'Make active'),
      el('button', { type: 'button', onclick: () => validate(a) }, 'Check keys'),
      el('button', { type: 'button', class: 'danger', onclick: async () => {
        if (!confirm('Delete ' + a.name + '? Its automations stop.')) return;
        await del('/v1/accounts/' + seg(a.id)); flash(a.name + ' deleted.'); await ctx.reload(); ctx.go('#/accounts');
      } }, 'Delete')),
  ]), { label: 'accounts' })));
}

async function validate(a) {
  try {
    const r = await post('/v1/accounts/' + seg(a.id) + '/credentials/validate');
    flash(r.valid ? a.name + ': the keys work.' : a.name + ': ' + (r.reason || 'the keys were refused'), r.valid ? 'ok' : 'bad');
  } catch (e) { flash(e.message, 'bad'); }
}

function connectCard(ctx) {
  const networks = [['mainnet', 'Mainnet (real bitcoin)'], ['testnet', 'Testnet (signet)']];
  if (ctx.dev) networks.push(['simulator', 'Simulator (paper trading)']);
  let pending = null; // an account saved whose keys failed the live check: fix its keys
  const f = form({ id: 'connect', 'aria-label': 'Connect an account' }, [
    field('Name', input('name', { value: ctx.accounts.length ? '' : 'My account', maxlength: 64, required: true })),
    field('Network', select('network', networks, ctx.dev ? 'simulator' : 'mainnet')),
    field('API key', input('credentials.key', { autocomplete: 'off', spellcheck: 'false', required: true })),
    field('Secret', input('credentials.secret', { type: 'password', autocomplete: 'off', required: true })),
    field('Passphrase', input('credentials.passphrase', { type: 'password', autocomplete: 'off', required: true })),
    el('div', { class: 'buttons' },
      el('button', { type: 'submit', class: 'primary' }, 'Connect'),
      ctx.dev ? el('button', { type: 'button', id: 'sim-keys', onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          const k = await post('/__dev/sim/keys');
          f.elements.namedItem('network').value = 'simulator';
          f.elements.namedItem('credentials.key').value = k.key;
          f.elements.namedItem('credentials.secret').value = k.secret;
          f.elements.namedItem('credentials.passphrase').value = k.passphrase;
          if (!val(f, 'name')) f.elements.namedItem('name').value = 'Paper account';
          flash('Simulator keys filled in (10,000,000 paper sats): press Connect.');
          f.querySelector('button[type=submit]').focus();
        } catch (e) { flash(e.message, 'bad'); } finally { ev.target.disabled = false; }
      } }, 'Use simulator keys') : null),
    el('p', { class: 'muted', id: 'connect-status', role: 'status' }),
  ], async (form) => {
    const credentials = { key: val(form, 'credentials.key') ?? '', secret: val(form, 'credentials.secret') ?? '', passphrase: val(form, 'credentials.passphrase') ?? '' };
    const status = form.querySelector('#connect-status');
    let acc;
    if (pending) acc = await patch('/v1/accounts/' + seg(pending), { credentials });
    else acc = await post('/v1/accounts', { name: val(form, 'name') ?? '', network: val(form, 'network'), credentials });
    status.textContent = 'Saved; checking the keys with the exchange…';
    const r = await post('/v1/accounts/' + seg(acc.id) + '/credentials/validate');
    if (!r.valid) {
      pending = acc.id;
      status.textContent = '';
      const err = new Error('The exchange refused these keys: ' + (r.reason || 'unknown reason') + '. Fix them and press Connect again.');
      err.fields = [];
      throw err;
    }
    pending = null;
    if (!acc.active) await post('/v1/accounts/' + seg(acc.id) + '/activate');
    ctx.pickAccount(acc.id);
    await ctx.reload();
    flash(acc.name + ' connected: the keys work.');
    ctx.go('#/positions');
  });
  return card(ctx.accounts.length ? 'Connect another account' : 'Connect an account', f);
}
