// Sign in / sign up: POST /v1/auth/login and /v1/auth/register; their messages are shown as is.
// Password reset: "Forgot password?" asks POST /v1/auth/password-reset (202 whatever the email),
// and the emailed link (/app#/reset?token=pwr_…) opens the reset form, which POSTs the token to
// /v1/auth/password-reset/confirm. The token lives in the URL fragment, never sent to a server.
import { post, session } from '../api.js';
import { el, field, form, input, val } from '../ui.js';

const intro = () => el('p', { class: 'muted' }, 'Margin Guard, take profit / stop loss and auto entry for your LN Markets positions, around the clock.');
const retryText = (e) => (e.status === 429 && e.retryAfter ? ' Try again in ' + e.retryAfter + ' s.' : '');

function authForm(main, ctx, mode) {
  const signup = mode === 'signup';
  main.appendChild(el('div', { class: 'auth' },
    el('h1', {}, signup ? 'Create your account' : 'Sign in'),
    intro(),
    form({ id: signup ? 'signup' : 'signin', 'aria-label': signup ? 'Sign up' : 'Sign in' }, [
      field('Email', input('email', { type: 'email', autocomplete: 'username', required: true })),
      field('Password', input('password', { type: 'password', autocomplete: signup ? 'new-password' : 'current-password', required: true }), signup ? 'At least 8 characters.' : null),
      el('button', { type: 'submit', class: 'primary' }, signup ? 'Sign up' : 'Sign in'),
    ], async (f) => {
      const body = { email: val(f, 'email') ?? '', password: f.elements.namedItem('password').value };
      const r = await post(signup ? '/v1/auth/register' : '/v1/auth/login', body);
      ctx.signedIn(r.token);
    }),
    signup
      ? el('p', {}, 'Already registered? ', el('a', { href: '#/signin' }, 'Sign in'))
      : el('p', {}, el('a', { href: '#/forgot', id: 'forgot-link' }, 'Forgot password?'), ' · New here? ', el('a', { href: '#/signup' }, 'Create an account')),
    ctx.dev ? el('p', { class: 'muted' }, 'Dev stack: the demo trader is demo@example.test / demo-password.') : null,
  ));
  main.querySelector('input[name=email]').focus();
}

export const signIn = (main, ctx) => authForm(main, ctx, 'signin');
export const signUp = (main, ctx) => authForm(main, ctx, 'signup');

/** "Forgot password?": the same answer whether or not the email has an account. */
export function forgot(main) {
  const done = el('p', { id: 'forgot-done', role: 'status', class: 'ok' });
  main.appendChild(el('div', { class: 'auth' },
    el('h1', {}, 'Reset your password'),
    el('p', { class: 'muted' }, 'Enter the email you signed up with: we send it a link to choose a new password.'),
    form({ id: 'forgot', 'aria-label': 'Reset your password' }, [
      field('Email', input('email', { type: 'email', autocomplete: 'username', required: true })),
      el('button', { type: 'submit', class: 'primary' }, 'Send the link'),
    ], async (f) => {
      done.textContent = '';
      try {
        await post('/v1/auth/password-reset', { email: val(f, 'email') ?? '' });
      } catch (e) { e.message += retryText(e); throw e; }
      done.textContent = 'If an account exists for this email, an email is on its way. The link works once, within 30 minutes.';
    }),
    done,
    el('p', {}, el('a', { href: '#/signin' }, '← Back to sign in')),
  ));
  main.querySelector('input[name=email]').focus();
}

/** The emailed link's page: a new password for the token in the fragment. */
export function reset(main) {
  let token = new URLSearchParams(location.hash.split('?')[1] || '').get('token') || '';
  // Out of the address bar and history once read (a shared screen, a back button).
  if (token) history.replaceState(null, '', location.pathname + '#/reset');
  const done = el('div', { id: 'reset-done', role: 'status' });
  const box = el('div', { class: 'auth' },
    el('h1', {}, 'Choose a new password'),
    token
      ? el('p', { class: 'muted' }, 'Every session of the account is signed out when the password changes.')
      : el('p', { class: 'bad', role: 'alert' }, 'This page needs the link from the reset email. ', el('a', { href: '#/forgot' }, 'Ask for a new one.')),
    form({ id: 'reset', 'aria-label': 'Choose a new password' }, [
      el('span', { class: 'field-error', 'data-error-for': 'token' }),
      field('New password', input('password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8 }), 'At least 8 characters.'),
      field('Repeat it', input('repeat', { type: 'password', autocomplete: 'new-password', required: true })),
      el('button', { type: 'submit', class: 'primary', disabled: !token }, 'Set the password'),
    ], async (f) => {
      const password = f.elements.namedItem('password').value;
      if (password !== f.elements.namedItem('repeat').value) throw localError('repeat', 'The two passwords differ.');
      try {
        await post('/v1/auth/password-reset/confirm', { token, password });
      } catch (e) {
        if (e.fields.some((d) => d.path === 'token')) e.details.forEach((d) => { if (d.path === 'token') d.message += ' — ask for a new link from “Forgot password?”.'; });
        e.message += retryText(e);
        throw e;
      }
      token = '';
      session.clear();
      f.hidden = true;
      done.append(el('p', { class: 'ok' }, 'Your password is changed and every session is signed out.'), el('p', {}, el('a', { href: '#/signin' }, 'Sign in with it')));
      done.querySelector('a').focus();
    }),
    done,
    el('p', {}, el('a', { href: '#/signin' }, '← Back to sign in')),
  );
  main.appendChild(box);
  main.querySelector('input[name=password]').focus();
}

function localError(path, message) {
  return { message: '', fields: [{ path, message }] }; // shown by its field only
}
