// The trader console: hash routes (/app#/positions), one module per page. Each page renders
// into <main> and may register timers through ctx.every(); they stop when the page changes.
import { get, session } from './api.js';
import { el, fill, flash } from './ui.js';
import * as auth from './pages/auth.js';
import * as accounts from './pages/accounts.js';
import * as positions from './pages/positions.js';
import * as guards from './pages/guards.js';
import * as activity from './pages/activity.js';
import * as simulations from './pages/simulations.js';
import * as plan from './pages/plan.js';
import * as notifications from './pages/notifications.js';

const PAGES = {
  positions: { title: 'Positions', page: positions },
  guards: { title: 'Guards', page: guards },
  activity: { title: 'Activity', page: activity },
  simulations: { title: 'Simulations', page: simulations },
  plan: { title: 'Plan', page: plan },
  notifications: { title: 'Notifications', page: notifications },
  accounts: { title: 'Accounts', page: accounts },
};
const PUBLIC = { signin: auth.signIn, signup: auth.signUp, forgot: auth.forgot, reset: auth.reset };
const TITLES = { signup: 'Sign up', forgot: 'Forgot password', reset: 'New password' };
const ACCOUNT_KEY = 'lnma.account';
const $ = (id) => document.getElementById(id);

const state = { me: null, accounts: [], environment: null, timers: [], cleanups: [], seq: 0 };

/** Everything a page needs: the user, accounts, the selected account, timers, navigation. */
const ctx = {
  get me() { return state.me; },
  get accounts() { return state.accounts; },
  get dev() { return state.environment === 'development'; },
  /** The account the pages show: the last one picked, else the active one, else the first. */
  accountId() {
    const ids = state.accounts.map((a) => a.id);
    const picked = localStorage.getItem(ACCOUNT_KEY);
    if (picked && ids.includes(picked)) return picked;
    return (state.me && ids.includes(state.me.activeAccountId) && state.me.activeAccountId) || ids[0] || null;
  },
  account() { return state.accounts.find((a) => a.id === ctx.accountId()) || null; },
  pickAccount(id) { localStorage.setItem(ACCOUNT_KEY, id); },
  /** A labelled <select> of the user's accounts that re-renders the page on change. */
  accountPicker(opts = {}) {
    if (state.accounts.length < 2 && !opts.all) return null;
    const s = el('select', { id: 'account-picker', 'aria-label': 'Account' },
      opts.all ? el('option', { value: '' }, 'All accounts') : null,
      state.accounts.map((a) => el('option', { value: a.id, selected: (opts.value ?? ctx.accountId()) === a.id ? 'selected' : null }, a.name + ' (' + a.network + ')')));
    s.addEventListener('change', () => { if (opts.onChange) opts.onChange(s.value); else { ctx.pickAccount(s.value); route(); } });
    return el('label', { class: 'picker' }, 'Account ', s);
  },
  /** Runs fn every ms while this page is shown (skipped while the tab is hidden). */
  every(ms, fn) {
    const seq = state.seq;
    const t = setInterval(() => { if (seq === state.seq && !document.hidden) fn(); }, ms);
    state.timers.push(t);
  },
  onLeave(fn) { state.cleanups.push(fn); },
  /** True while the page that asked is still the one shown (async work checks it). */
  alive(seq) { return seq === state.seq; },
  get seq() { return state.seq; },
  async reload() {
    const [me, accs] = await Promise.all([get('/v1/me'), get('/v1/accounts')]);
    state.me = me;
    state.accounts = accs.data;
    renderHeader();
  },
  go(hash) { if (location.hash === hash) route(); else location.hash = hash; },
  signedIn(token) { session.set(token); state.me = null; ctx.go('#/positions'); },
};

function renderHeader() {
  const nav = $('nav');
  const signed = !!state.me;
  nav.hidden = !signed;
  $('logout').hidden = !signed;
  $('who').textContent = signed ? state.me.email + ' · ' + state.me.plan : '';
  const current = (location.hash.slice(2) || 'positions').split('?')[0];
  fill(nav, Object.entries(PAGES).map(([k, p]) => el('a', { href: '#/' + k, 'aria-current': k === current ? 'page' : null }, p.title)));
}

async function route() {
  state.seq++;
  state.timers.forEach(clearInterval);
  state.timers = [];
  state.cleanups.splice(0).forEach((fn) => { try { fn(); } catch { /* page gone */ } });
  const name = (location.hash.slice(2) || '').split('?')[0];
  const main = $('main');
  // The emailed reset link opens its page signed in or not (the reset ends every session).
  if (!session.token || name === 'reset') {
    state.me = null;
    renderHeader();
    const page = PUBLIC[name] || auth.signIn;
    fill(main);
    page(main, ctx);
    document.title = (TITLES[name] || 'Sign in') + ' · LN Markets automation';
    return;
  }
  if (PUBLIC[name]) return ctx.go('#/positions');
  try {
    if (!state.me) await ctx.reload();
  } catch (e) {
    fill(main, el('p', { class: 'bad' }, e.message));
    return;
  }
  let key = PAGES[name] ? name : 'positions';
  // A newcomer with no exchange account starts by connecting one.
  if (!state.accounts.length && ['positions', 'guards'].includes(key)) key = 'accounts';
  renderHeader();
  document.title = PAGES[key].title + ' · LN Markets automation';
  fill(main, el('h1', {}, PAGES[key].title));
  const seq = state.seq;
  try {
    await PAGES[key].page.render(main, ctx, seq);
  } catch (e) {
    if (ctx.alive(seq)) main.appendChild(el('p', { class: 'bad', role: 'alert' }, e.message));
  }
  // Keyboard and screen-reader users land on the new page's content.
  if (ctx.alive(seq) && document.activeElement && document.activeElement.closest && document.activeElement.closest('nav')) main.focus({ preventScroll: true });
}

session.onExpired((msg) => { state.me = null; flash(msg, 'bad'); ctx.go('#/signin'); });
$('logout').addEventListener('click', () => { session.clear(); state.me = null; flash('Signed out.'); ctx.go('#/signin'); });
window.addEventListener('hashchange', route);
get('/health').then((h) => { state.environment = h.environment; }).catch(() => {}).finally(route);

