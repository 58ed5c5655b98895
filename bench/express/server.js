// The baseline scripts/bench compares our stack against: what a typical
// Node backend for Kakao login looks like. Express 5 + passport-kakao +
// jsonwebtoken + better-sqlite3, two cluster workers, the same routes and the
// same redirects-and-cookies flow as our edge, against the same emulator.
//
//   PORT, EMULATOR_URL, REDIRECT_URI, DB_PATH, FRONTEND_URL, JWT_SECRET,
//   SESSION_SECRET, KAKAO_CLIENT_ID, WORKERS (default 2)
//
// Not a product: no error route mapping, no PKCE (passport-oauth2 1.1 as
// pinned by passport-kakao has none), HS256 access tokens (the usual
// jsonwebtoken setup) where our service signs EdDSA.
'use strict';

const cluster = require('node:cluster');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const env = (name, fallback) => process.env[name] ?? fallback;
const WORKERS = Number(env('WORKERS', '2'));

if (cluster.isPrimary) {
  // Workers must share the secrets, so the primary picks any left unset.
  for (const name of ['JWT_SECRET', 'SESSION_SECRET']) {
    process.env[name] ||= crypto.randomBytes(32).toString('hex');
  }
  const db = openDb();
  db.close();
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  cluster.on('exit', (worker, code) => {
    if (!stopping) console.error(`worker ${worker.process.pid} exited with ${code}`);
  });
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    cluster.on('exit', () => Object.keys(cluster.workers).length === 0 && process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  serve();
}

function openDb() {
  const Database = require('better-sqlite3');
  const db = new Database(env('DB_PATH', 'express-bench.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.exec(fs.readFileSync(path.join(__dirname, 'schema.sql'), 'utf8'));
  return db;
}

function serve() {
  const express = require('express');
  const passport = require('passport');
  const KakaoStrategy = require('passport-kakao').Strategy;
  const cookieSession = require('cookie-session');
  const cookieParser = require('cookie-parser');
  const jwt = require('jsonwebtoken');

  const emulator = env('EMULATOR_URL', 'http://127.0.0.1:8081');
  const frontend = env('FRONTEND_URL', 'http://localhost:8080/');
  const jwtSecret = process.env.JWT_SECRET;
  const db = openDb();

  const upsertUser = db.prepare(`
    INSERT INTO users (id, kakao_id, nickname, email, created_at, last_login_at)
    VALUES (@id, @kakaoId, @nickname, @email, @now, @now)
    ON CONFLICT (kakao_id) DO UPDATE SET
      nickname = excluded.nickname, email = excluded.email, last_login_at = excluded.last_login_at
    RETURNING id`);
  const insertRefresh = db.prepare(`
    INSERT INTO refresh_tokens (id, user_id, token_hash, created_at, expires_at)
    VALUES (?, ?, ?, ?, ?)`);
  const userById = db.prepare('SELECT id, kakao_id, nickname, email FROM users WHERE id = ?');
  const login = db.transaction((profile) => {
    const account = profile._json.kakao_account || {};
    const now = Date.now();
    const { id } = upsertUser.get({
      id: crypto.randomUUID(),
      kakaoId: profile.id,
      nickname: (account.profile && account.profile.nickname) || profile.username || '',
      email: account.is_email_valid && account.is_email_verified ? account.email : null,
      now,
    });
    const refresh = crypto.randomBytes(32).toString('base64url');
    const hash = crypto.createHash('sha256').update(refresh).digest('hex');
    insertRefresh.run(crypto.randomUUID(), id, hash, now, now + 14 * 24 * 3600 * 1000);
    return { id, refresh };
  });

  const strategy = new KakaoStrategy(
    {
      clientID: env('KAKAO_CLIENT_ID', 'demo-rest-api-key'),
      callbackURL: env('REDIRECT_URI', 'http://localhost:8080/auth/kakao/callback'),
      state: true,
    },
    (accessToken, refreshToken, profile, done) => {
      try {
        done(null, login(profile));
      } catch (err) {
        done(err);
      }
    },
  );
  // passport-kakao 1.0.1 overwrites authorizationURL/tokenURL and fixes the
  // profile URL to Kakao's hosts, so point the OAuth client at the emulator
  // after construction; and send the token in the Authorization header, as
  // Kakao documents (node-oauth's default is an access_token query parameter).
  strategy._oauth2._authorizeUrl = `${emulator}/oauth/authorize`;
  strategy._oauth2._accessTokenUrl = `${emulator}/oauth/token`;
  strategy._userProfileURL = `${emulator}/v2/user/me`;
  strategy._oauth2.useAuthorizationHeaderforGET(true);
  passport.use(strategy);

  const app = express();
  app.disable('x-powered-by');
  app.use(cookieParser());
  // The OAuth state lives in a signed cookie (cookie-session): bound to the
  // browser like our binding cookie, and valid on either worker.
  app.use(
    '/auth/kakao',
    cookieSession({
      name: 'kakao_login',
      keys: [process.env.SESSION_SECRET],
      httpOnly: true,
      sameSite: 'lax',
      maxAge: 10 * 60 * 1000,
    }),
  );
  app.use(passport.initialize());

  app.get('/auth/kakao/login', passport.authenticate('kakao', { session: false }));

  app.get(
    '/auth/kakao/callback',
    passport.authenticate('kakao', { session: false, failureRedirect: `${frontend}?error=login_failed` }),
    (req, res) => {
      const access = jwt.sign({ sub: req.user.id, jti: crypto.randomUUID() }, jwtSecret, {
        expiresIn: '15m',
        issuer: 'kakao-login-express',
        audience: 'kakao-login',
      });
      const flags = { httpOnly: true, secure: true, sameSite: 'lax' };
      res.cookie('access_token', access, { ...flags, path: '/', maxAge: 15 * 60 * 1000 });
      res.cookie('refresh_token', req.user.refresh, { ...flags, path: '/auth', maxAge: 14 * 24 * 3600 * 1000 });
      res.set('Cache-Control', 'no-store').redirect(302, frontend);
    },
  );

  app.get('/auth/me', (req, res) => {
    try {
      const claims = jwt.verify(req.cookies.access_token || '', jwtSecret, {
        algorithms: ['HS256'],
        issuer: 'kakao-login-express',
        audience: 'kakao-login',
      });
      const user = userById.get(claims.sub);
      if (!user) return res.status(401).json({ error: 'unauthenticated' });
      res.json({ id: user.id, kakaoId: String(user.kakao_id), nickname: user.nickname, email: user.email });
    } catch {
      res.status(401).json({ error: 'unauthenticated' });
    }
  });

  app.get('/healthz', (req, res) => res.type('text').send('ok'));

  const server = app.listen(Number(env('PORT', '3000')), '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
  // A worker never outlives its primary.
  process.on('disconnect', () => process.exit(0));
}
