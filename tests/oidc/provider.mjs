// A real OpenID Connect provider for the tests, on loopback: panva's oidc-provider (an
// OpenID Certified implementation), with the authorization code flow and PKCE (S256,
// required), RP-initiated logout, and JWT access tokens (RFC 9068) for CareLedger's API,
// signed with the keys the test wrote (so a test can rotate them by restarting it).
//
//   node provider.mjs <port> <keys.json> <config.json>
//
// keys.json: {"keys": [private JWKs, each with a kid]}; config.json: {"audience": "...",
// "clients": [oidc-provider client metadata], "accessTokenTTL": seconds}.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const [port, keysFile, configFile] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configFile, "utf8"));
const jwks = JSON.parse(readFileSync(keysFile, "utf8"));
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  jwks,
  clients: config.clients,
  // Whoever signs in at the dev login form is the subject they typed.
  findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  pkce: { required: () => true },
  scopes: ["openid", "careledger"],
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: "careledger",
        audience: config.audience,
        accessTokenFormat: "jwt",
        accessTokenTTL: config.accessTokenTTL || 600,
        jwt: { sign: { alg: jwks.keys[0].alg || "ES256" } },
      }),
    },
  },
  ttl: { IdToken: 600, AccessToken: config.accessTokenTTL || 600, Session: 3600, Grant: 3600,
         Interaction: 600, AuthorizationCode: 60 },
  // No cookies marked Secure over loopback HTTP: the provider's own session cookies.
  cookies: { keys: ["careledger-tests-only"] },
});
provider.proxy = false;
const server = provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`oidc provider listening at ${issuer}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
