-- The comparison app's tables: the same rows per login as our service keeps
-- (a user upserted by Kakao id, a session with a hashed refresh token).
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  kakao_id INTEGER NOT NULL UNIQUE,
  nickname TEXT NOT NULL,
  email TEXT,
  created_at INTEGER NOT NULL,
  last_login_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
