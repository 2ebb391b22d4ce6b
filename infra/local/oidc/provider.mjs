// The local stack's OpenID Provider: oidc-provider (a certified implementation) on loopback, over
// plain HTTP, with clients and users from a JSON file, its own minimal login and consent pages,
// and a small admin API the tests use to change users and to make a client's next ID tokens
// faulty (unpublished signing key, wrong aud/iss, expired, no nonce). See README.md.
//
//   GATEHOUSE_OIDC_PORT=9400 GATEHOUSE_OIDC_ADMIN_KEY=... node infra/local/oidc/provider.mjs
//
// Environment:
//   GATEHOUSE_OIDC_PORT       port on 127.0.0.1 (default 9400); the issuer is http://127.0.0.1:<port>
//   GATEHOUSE_OIDC_CONFIG     clients, users and scopes (default: config.json next to this file)
//   GATEHOUSE_OIDC_ADMIN_KEY  bearer key of the admin API and initial access token of dynamic
//                             client registration; both are off when it is unset

import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CompactSign, calculateJwkThumbprint, decodeJwt, decodeProtectedHeader } from 'jose';
import Provider, { errors } from 'oidc-provider';

const HERE = dirname(fileURLToPath(import.meta.url));
const HOST = '127.0.0.1';
const MAX_BODY = 64 * 1024;
const DEFAULT_SCOPES = {
  openid: ['sub'],
  profile: ['name'],
  email: ['email', 'email_verified'],
  groups: ['groups'],
};
const SIGNING_KEYS = ['published', 'unpublished', 'unpublished_with_published_kid'];
const FAULT_FIELDS = new Set(['signing_key', 'aud', 'iss', 'expired', 'omit_nonce']);

const log = (...parts) => console.log(`oidc: ${parts.join(' ')}`);

// ---------------------------------------------------------------------------------------------
// Configuration: users and scopes are ours, clients are oidc-provider client metadata as is.

function fail(message) {
  throw new Error(`config: ${message}`);
}

function parseUser(raw, where) {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${where} must be an object`);
  const { username, password, claims } = raw;
  if (typeof username !== 'string' || username === '') fail(`${where}.username must be a non-empty string`);
  if (typeof password !== 'string' || password === '') fail(`${where}.password must be a non-empty string`);
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) fail(`${where}.claims must be an object`);
  if (typeof claims.sub !== 'string' || claims.sub === '') fail(`${where}.claims.sub must be a non-empty string`);
  if ('groups' in claims && !(Array.isArray(claims.groups) && claims.groups.every((g) => typeof g === 'string'))) {
    fail(`${where}.claims.groups must be an array of strings`);
  }
  if ('email_verified' in claims && typeof claims.email_verified !== 'boolean') {
    fail(`${where}.claims.email_verified must be a boolean`);
  }
  const extra = Object.keys(raw).filter((k) => !['username', 'password', 'claims'].includes(k));
  if (extra.length) fail(`${where} has unknown fields: ${extra.join(', ')}`);
  return { username, password, claims: structuredClone(claims) };
}

function parseScopes(raw) {
  if (raw === undefined) return DEFAULT_SCOPES;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('scopes must be an object');
  for (const [scope, claims] of Object.entries(raw)) {
    if (!Array.isArray(claims) || !claims.every((c) => typeof c === 'string')) {
      fail(`scopes.${scope} must be an array of claim names`);
    }
  }
  if (!raw.openid?.includes('sub')) fail('scopes.openid must release "sub"');
  return raw;
}

function loadConfig(path) {
  let raw;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(`cannot read ${path}: ${err.message}`);
  }
  const unknown = Object.keys(raw).filter((k) => !['scopes', 'clients', 'users'].includes(k));
  if (unknown.length) fail(`unknown top-level fields: ${unknown.join(', ')}`);
  const clients = raw.clients ?? [];
  if (!Array.isArray(clients)) fail('clients must be an array');
  const users = (raw.users ?? []).map((u, i) => parseUser(u, `users[${i}]`));
  return { scopes: parseScopes(raw.scopes), clients, users };
}

// The user directory, changed at run time through the admin API.
class Users {
  #byName = new Map();
  #bySub = new Map();

  put(user) {
    const holder = this.#bySub.get(user.claims.sub);
    if (holder && holder.username !== user.username) {
      return `sub ${JSON.stringify(user.claims.sub)} already belongs to user ${JSON.stringify(holder.username)}`;
    }
    this.delete(user.username);
    this.#byName.set(user.username, user);
    this.#bySub.set(user.claims.sub, user);
    return null;
  }

  delete(username) {
    const old = this.#byName.get(username);
    if (!old) return false;
    this.#byName.delete(username);
    this.#bySub.delete(old.claims.sub);
    return true;
  }

  byName(username) {
    return this.#byName.get(username);
  }

  bySub(sub) {
    return this.#bySub.get(sub);
  }

  list() {
    return [...this.#byName.values()].map(({ username, claims }) => ({ username, claims }));
  }
}

// ---------------------------------------------------------------------------------------------
// Keys: the published signing key (in the JWKS) and a second one that is never published.

async function rsaKey() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = publicKey.export({ format: 'jwk' });
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    privateKey,
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' },
    publicJwk: { ...publicJwk, kid, alg: 'RS256', use: 'sig' },
  };
}

// ---------------------------------------------------------------------------------------------
// ID-token faults per client. oidc-provider signs every ID token with a published key and its
// own claims; when a client has faults, the token endpoint's response is post-processed: the ID
// token the provider issued is decoded, changed as asked and signed again (RS256) with the
// published or the unpublished key. Nothing else in the flow is touched.

function parseFaults(raw) {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [null, 'the body must be a JSON object'];
  const unknown = Object.keys(raw).filter((k) => !FAULT_FIELDS.has(k));
  if (unknown.length) return [null, `unknown fields: ${unknown.join(', ')}`];
  const f = {};
  if (raw.signing_key !== undefined) {
    if (!SIGNING_KEYS.includes(raw.signing_key)) return [null, `signing_key must be one of ${SIGNING_KEYS.join(', ')}`];
    if (raw.signing_key !== 'published') f.signing_key = raw.signing_key;
  }
  if (raw.aud !== undefined) {
    const ok = typeof raw.aud === 'string' || (Array.isArray(raw.aud) && raw.aud.every((a) => typeof a === 'string'));
    if (!ok) return [null, 'aud must be a string or an array of strings'];
    f.aud = raw.aud;
  }
  if (raw.iss !== undefined) {
    if (typeof raw.iss !== 'string') return [null, 'iss must be a string'];
    f.iss = raw.iss;
  }
  for (const flag of ['expired', 'omit_nonce']) {
    if (raw[flag] !== undefined) {
      if (typeof raw[flag] !== 'boolean') return [null, `${flag} must be a boolean`];
      if (raw[flag]) f[flag] = true;
    }
  }
  return [f, null];
}

async function applyFaults(idToken, faults, keys) {
  const header = decodeProtectedHeader(idToken);
  const payload = decodeJwt(idToken);
  if (faults.aud !== undefined) payload.aud = faults.aud;
  if (faults.iss !== undefined) payload.iss = faults.iss;
  if (faults.expired) {
    // Well past any clock-skew allowance a verifier may grant.
    const now = Math.floor(Date.now() / 1000);
    payload.iat = now - 1200;
    payload.exp = now - 600;
  }
  if (faults.omit_nonce) delete payload.nonce;
  const signer = faults.signing_key ? keys.unpublished : keys.published;
  const kid = faults.signing_key === 'unpublished' ? keys.unpublished.kid : keys.published.kid;
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ ...header, alg: 'RS256', kid })
    .sign(signer.privateKey);
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function esc(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Gatehouse local OpenID Provider</title>
<style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}label,input,button{display:block;margin:.4rem 0}input{width:100%;padding:.3rem}.error{color:#a00000}</style>
</head>
<body>
<main>
<h1>${esc(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

function sendHtml(res, status, html) {
  res.writeHead(status, PAGE_HEADERS);
  res.end(html);
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function sendProblem(res, status, title, detail) {
  res.writeHead(status, { 'content-type': 'application/problem+json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

class BadBody extends Error {}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new BadBody('the body is larger than 64 KiB');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readForm(req) {
  const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new BadBody('expected a form (application/x-www-form-urlencoded)');
  return new URLSearchParams(await readBody(req));
}

async function readJson(req) {
  const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new BadBody('expected application/json');
  try {
    return JSON.parse(await readBody(req));
  } catch (err) {
    if (err instanceof BadBody) throw err;
    throw new BadBody('the body is not valid JSON');
  }
}

function sameSecret(given, expected) {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------------------------
// The provider

async function start({ port, configPath, adminKey }) {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`GATEHOUSE_OIDC_PORT must be a port number, not ${port}`);
  const issuer = `http://${HOST}:${port}`;
  const config = loadConfig(configPath);
  const users = new Users();
  for (const user of config.users) {
    if (users.byName(user.username)) fail(`duplicate username ${JSON.stringify(user.username)}`);
    const conflict = users.put(user);
    if (conflict) fail(conflict);
  }
  const keys = { published: await rsaKey(), unpublished: await rsaKey() };
  const faults = new Map(); // client_id -> faults

  const provider = new Provider(issuer, {
    clients: config.clients,
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    // `skip_consent: false` makes a client go through the consent page; every other client is
    // first-party and consent is granted silently (see loadExistingGrant).
    extraClientMetadata: {
      properties: ['skip_consent'],
      validator(ctx, key, value) {
        if (key === 'skip_consent' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('skip_consent must be a boolean');
        }
      },
    },
    jwks: { keys: [keys.published.privateJwk] },
    cookies: {
      keys: [crypto.randomBytes(32).toString('base64url')],
      // Plain HTTP on loopback: SameSite=None cookies need Secure, so both kinds are Lax (the
      // provider is only reached by top-level navigations and its own form posts).
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    claims: config.scopes,
    scopes: ['openid'],
    // Scope-released claims (email, name, groups) go into the ID token, not only to userinfo.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    pkce: { methods: ['S256'], required: () => true },
    features: {
      devInteractions: { enabled: false },
      registration: adminKey ? { enabled: true, initialAccessToken: adminKey } : { enabled: false },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const user = users.bySub(sub);
      if (!user) return undefined;
      return { accountId: sub, claims: async () => structuredClone(user.claims) };
    },
    async loadExistingGrant(ctx) {
      const { client, session } = ctx.oidc;
      const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
      const existing = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (client.skip_consent === false) return existing;
      const grant = existing ?? new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(ctx.oidc.requestParamOIDCScopes);
      if (ctx.oidc.requestParamClaims.size) grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.set('content-security-policy', PAGE_HEADERS['content-security-policy']);
      ctx.body = page('Sign-in failed', Object.entries(out)
        .map(([k, v]) => `<p><strong>${esc(k)}</strong>: ${esc(v)}</p>`).join('\n'));
    },
  });

  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'token' || ctx.status !== 200 || typeof ctx.body?.id_token !== 'string') return;
    const f = faults.get(ctx.oidc.client?.clientId);
    if (f && Object.keys(f).length) {
      ctx.body = { ...ctx.body, id_token: await applyFaults(ctx.body.id_token, f, keys) };
    }
  });
  for (const event of ['authorization.error', 'grant.error', 'registration_create.error', 'userinfo.error']) {
    provider.on(event, (ctx, err) => log(`${event}: ${err.error || err.name}: ${err.error_description || err.message}`));
  }
  provider.on('server_error', (ctx, err) => log(`server_error: ${err.stack || err}`));

  // --- login and consent pages -----------------------------------------------------------------

  async function clientName(clientId) {
    const client = await provider.Client.find(clientId);
    return client?.clientName || clientId;
  }

  function loginPage(uid, name, username, error) {
    return page('Sign in', `<p>to continue to <strong>${esc(name)}</strong></p>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${esc(username)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort">
<button type="submit">Cancel</button>
</form>`);
  }

  function consentPage(uid, name, details) {
    const scopes = details.missingOIDCScope || [];
    return page('Allow access', `<p><strong>${esc(name)}</strong> asks for: ${scopes.map(esc).join(', ') || 'your identity'}</p>
<form method="post" action="/interaction/${esc(uid)}/confirm">
<button type="submit">Allow</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort">
<button type="submit">Deny</button>
</form>`);
  }

  async function interaction(req, res, uid, action) {
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      if (err instanceof errors.SessionNotFound) {
        return sendHtml(res, 400, page('Sign-in expired', '<p>This sign-in is no longer valid. Start again from the application.</p>'));
      }
      throw err;
    }
    if (details.uid !== uid) return sendHtml(res, 400, page('Sign-in expired', '<p>This sign-in does not belong to this browser.</p>'));
    const { prompt, params } = details;
    const name = await clientName(params.client_id);

    if (!action) {
      if (req.method !== 'GET') return sendHtml(res, 405, page('Method not allowed', ''));
      if (prompt.name === 'login') return sendHtml(res, 200, loginPage(uid, name, params.login_hint || '', ''));
      if (prompt.name === 'consent') return sendHtml(res, 200, consentPage(uid, name, prompt.details));
      return sendHtml(res, 400, page('Unsupported prompt', `<p>${esc(prompt.name)}</p>`));
    }
    if (req.method !== 'POST') return sendHtml(res, 405, page('Method not allowed', ''));
    const form = await readForm(req);

    if (action === 'abort') {
      return provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
    }
    if (action === 'login') {
      if (prompt.name !== 'login') return sendHtml(res, 400, page('Already signed in', '<p>Reload the page.</p>'));
      const username = form.get('username') || '';
      const user = users.byName(username);
      // Compare against a dummy secret for unknown users so both paths cost the same.
      const ok = sameSecret(form.get('password') || '', user ? user.password : crypto.randomUUID()) && !!user;
      if (!ok) {
        log(`login refused for username ${JSON.stringify(username)}`);
        return sendHtml(res, 200, loginPage(uid, name, username, 'Invalid username or password.'));
      }
      return provider.interactionFinished(req, res, {
        login: { accountId: user.claims.sub },
      }, { mergeWithLastSubmission: false });
    }
    // confirm
    if (prompt.name !== 'consent') return sendHtml(res, 400, page('Nothing to confirm', '<p>Reload the page.</p>'));
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  // --- admin API -------------------------------------------------------------------------------

  async function admin(req, res, path) {
    if (!adminKey) return sendProblem(res, 404, 'Not Found', 'the admin API is off (GATEHOUSE_OIDC_ADMIN_KEY is unset)');
    const auth = req.headers.authorization || '';
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!given || !sameSecret(given, adminKey)) {
      res.setHeader('www-authenticate', 'Bearer realm="oidc-admin"');
      return sendProblem(res, 401, 'Unauthorized', 'send Authorization: Bearer <GATEHOUSE_OIDC_ADMIN_KEY>');
    }
    const parts = path.split('/').slice(2).map(decodeURIComponent); // ['', '__admin', ...]
    const method = req.method;

    if (parts.length === 1 && parts[0] === 'users' && method === 'GET') {
      return sendJson(res, 200, { users: users.list() });
    }
    if (parts.length === 2 && parts[0] === 'users') {
      const username = parts[1];
      if (method === 'GET') {
        const user = users.byName(username);
        return user ? sendJson(res, 200, { username, claims: user.claims }) : sendProblem(res, 404, 'Not Found', `no user ${username}`);
      }
      if (method === 'PUT') {
        const body = await readJson(req);
        let user;
        try {
          user = parseUser({ ...body, username }, 'user');
        } catch (err) {
          return sendProblem(res, 400, 'Bad Request', err.message.replace(/^config: /, ''));
        }
        const existed = !!users.byName(username);
        const conflict = users.put(user);
        if (conflict) return sendProblem(res, 409, 'Conflict', conflict);
        return sendJson(res, existed ? 200 : 201, { username, claims: user.claims });
      }
      if (method === 'DELETE') {
        return users.delete(username) ? (res.writeHead(204), res.end()) : sendProblem(res, 404, 'Not Found', `no user ${username}`);
      }
    }
    if (parts.length === 3 && parts[0] === 'clients' && parts[2] === 'id-token-faults') {
      const clientId = parts[1];
      if (!(await provider.Client.find(clientId))) return sendProblem(res, 404, 'Not Found', `no client ${clientId}`);
      if (method === 'GET') return sendJson(res, 200, faults.get(clientId) || {});
      if (method === 'PUT') {
        const [f, error] = parseFaults(await readJson(req));
        if (error) return sendProblem(res, 400, 'Bad Request', error);
        if (Object.keys(f).length) faults.set(clientId, f);
        else faults.delete(clientId);
        return sendJson(res, 200, f);
      }
      if (method === 'DELETE') {
        faults.delete(clientId);
        res.writeHead(204);
        return res.end();
      }
    }
    if (parts.length === 2 && parts[0] === 'keys' && parts[1] === 'unpublished' && method === 'GET') {
      return sendJson(res, 200, { keys: [keys.unpublished.publicJwk] });
    }
    return sendProblem(res, 404, 'Not Found', `no admin route ${method} ${path}`);
  }

  // --- server ----------------------------------------------------------------------------------

  const providerCallback = provider.callback();
  const server = createServer(async (req, res) => {
    const { pathname } = new URL(req.url, issuer);
    try {
      if (pathname === '/__admin' || pathname.startsWith('/__admin/')) return await admin(req, res, pathname);
      const m = pathname.match(/^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/);
      if (m) return await interaction(req, res, m[1], m[2]);
    } catch (err) {
      if (err instanceof BadBody || err instanceof URIError) return sendProblem(res, 400, 'Bad Request', err.message);
      log(`error on ${req.method} ${pathname}: ${err.stack || err}`);
      if (!res.headersSent) sendProblem(res, 500, 'Internal Server Error', 'see the provider log');
      return undefined;
    }
    return providerCallback(req, res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, resolve);
  });
  log(`ready issuer=${issuer} users=${config.users.length} clients=${config.clients.length}`
    + ` admin=${adminKey ? 'on' : 'off'} config=${configPath}`);
  return { server, issuer, provider };
}

try {
  const { server } = await start({
    port: Number(process.env.GATEHOUSE_OIDC_PORT || 9400),
    configPath: process.env.GATEHOUSE_OIDC_CONFIG || join(HERE, 'config.json'),
    adminKey: process.env.GATEHOUSE_OIDC_ADMIN_KEY || '',
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  console.error(`oidc: ${err.message}`);
  process.exit(1);
}
