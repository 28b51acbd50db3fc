// A certified OpenID provider (oidc-provider) for the tests, on a free loopback port.
//
// Configuration comes as one JSON file named by OIDC_CONFIG_FILE:
//   {"clients": [...client metadata...], "jwks": {"keys": [private JWKs]},
//    "accounts": {"<login>": {claims}}, "issuer_host": "localhost"}
// It listens on 127.0.0.1; the issuer names ``issuer_host`` (default 127.0.0.1): "localhost" makes the provider
// another site than an app on 127.0.0.1 for the browser, as a real provider is.
// The login and consent pages are oidc-provider's devInteractions: any login name with any password signs
// in as the account of that name (its claims from "accounts", else only "sub"). When the server listens it
// prints one line "READY <issuer>" on stdout; it stops when stdin closes (its parent test process is gone).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.env.OIDC_CONFIG_FILE, 'utf8'));
const issuerHost = config.issuer_host || '127.0.0.1';
const server = createServer();

server.listen(0, '127.0.0.1', () => {
  const issuer = `http://${issuerHost}:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks: config.jwks,
    cookies: { keys: ['test cookie key, loopback only'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
    },
    // PKCE for every client, confidential ones too: a client that does not send it is refused.
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
    async findAccount(ctx, sub) {
      const claims = config.accounts?.[sub] || {};
      return { accountId: sub, async claims() { return { ...claims, sub }; } };
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  server.on('request', provider.callback());
  console.log(`READY ${issuer}`);
});

process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
