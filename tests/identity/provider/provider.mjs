// A real OpenID Connect provider (panva/oidc-provider, OpenID Certified) on loopback, for
// tests/identity (issue #17). Usage: node provider.mjs <port> <jwks.json>
//
// The JWKS file holds the PRIVATE signing keys: the Python test makes them, so it can also sign
// the tokens the provider would never issue (expired, another issuer) with the provider's own key.
// Prints "READY <issuer>" once it listens; SIGTERM stops it.
//
// - issuer http://127.0.0.1:<port>;
// - resource indicators: the default resource urn:devzones gives JWT access tokens (RFC 9068,
//   RS256) with audience "devzones"; urn:other gives audience "other-api" (a wrong audience for us);
// - roles under the nested claim realm_access.roles (Keycloak's shape), and the scope claims
//   division / zone at the top level, put in by extraTokenClaims;
// - machine clients (client_credentials) carry their roles and division as client metadata
//   (extraClientMetadata); the user signs in through the development interactions (login and
//   consent forms) with authorization code + PKCE.
import { readFileSync } from 'node:fs';

import Provider, { errors } from 'oidc-provider';

const [port, jwksPath] = process.argv.slice(2);
if (!port || !jwksPath) {
  console.error('usage: node provider.mjs <port> <jwks.json>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const jwks = JSON.parse(readFileSync(jwksPath, 'utf8'));

const REDIRECT_URI = 'http://127.0.0.1/callback';

// The people who sign in, with their roles at the provider (not all of them are devzones roles).
const USERS = {
  ada: { roles: ['city_admin', 'uma_authorization'] },
};

const machine = (clientId, division) => ({
  client_id: clientId,
  client_secret: `${clientId}-secret`,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  devzones_roles: ['county'],
  devzones_division: division,
});

const RESOURCES = {
  'urn:devzones': { audience: 'devzones', scope: 'devzones' },
  'urn:other': { audience: 'other-api', scope: 'other' },
};

const provider = new Provider(issuer, {
  jwks,
  cookies: { keys: ['devzones-identity-test-cookie-key'] },
  clients: [
    machine('county-zhangbei', '130722'),
    { ...machine('county-other', '130723'), token_endpoint_auth_method: 'client_secret_post' },
    {
      client_id: 'devzones-web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
    },
  ],
  extraClientMetadata: {
    properties: ['devzones_roles', 'devzones_division'],
    validator(_ctx, key, value) {
      if (key === 'devzones_roles' && value !== undefined && !Array.isArray(value)) {
        throw new errors.InvalidClientMetadata('devzones_roles must be an array');
      }
    },
  },
  async findAccount(_ctx, id) {
    if (!USERS[id]) return undefined;
    return { accountId: id, async claims() { return { sub: id }; } };
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? 'urn:devzones',
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resource) => {
        const server = RESOURCES[resource];
        if (!server) throw new errors.InvalidTarget();
        return { ...server, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  async extraTokenClaims(_ctx, token) {
    if (token.accountId) {
      return { realm_access: { roles: USERS[token.accountId]?.roles ?? [] } };
    }
    const client = await provider.Client.find(token.clientId);
    const metadata = client.metadata();
    return {
      realm_access: { roles: metadata.devzones_roles ?? [] },
      division: metadata.devzones_division,
    };
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});
process.on('SIGTERM', () => process.exit(0));
