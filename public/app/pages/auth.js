// Sign in / sign up: POST /v1/auth/login and /v1/auth/register; their messages are shown as is.
import { post } from '../api.js';
import { el, field, form, input, val } from '../ui.js';

function authForm(main, ctx, mode) {
  const signup = mode === 'signup';
  main.appendChild(el('div', { class: 'auth' },
    el('h1', {}, signup ? 'Create your account' : 'Sign in'),
    el('p', { class: 'muted' }, 'Margin Guard, take profit / stop loss and auto entry for your LN Markets positions, around the clock.'),
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
      : el('p', {}, 'New here? ', el('a', { href: '#/signup' }, 'Create an account')),
    ctx.dev ? el('p', { class: 'muted' }, 'Dev stack: the demo trader is demo@example.test / demo-password.') : null,
  ));
  main.querySelector('input[name=email]').focus();
}

export const signIn = (main, ctx) => authForm(main, ctx, 'signin');
export const signUp = (main, ctx) => authForm(main, ctx, 'signup');
