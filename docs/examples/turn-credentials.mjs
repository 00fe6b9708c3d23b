// Mints TURN REST API credentials with the secret the TURN server shares (--static-auth-secret).
// Usage: node turn-credentials.mjs SECRET USER TTL_SECONDS
import { createHmac } from 'node:crypto';

export function mintTurnCredentials(secret, user, ttlSeconds) {
  const expiry = Math.floor(Date.now() / 1000) + ttlSeconds;
  const username = `${expiry}:${user}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [secret, user, ttl] = process.argv.slice(2);
  console.log(JSON.stringify(mintTurnCredentials(secret, user, Number(ttl))));
}
