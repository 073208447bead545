/**
 * Test certificates generated at test time with the `openssl` command line into a temp dir:
 * a CA, a server certificate for 127.0.0.1/localhost, a client certificate for mutual TLS, and
 * a second, untrusted CA with its own client certificate (for negative tests). EC P-256 keys
 * keep generation fast. Nothing is checked into the repository.
 *
 *   const pki = generateTestPki();            // throws if openssl is missing (see hasOpenssl)
 *   startGenericReceiver({ tls: pki.serverTls({ requireClientCert: true }) })
 *   sink tls: { ca_file: pki.caFile, cert_file: pki.clientCertFile, key_file: pki.clientKeyFile }
 *   afterAll(() => pki.cleanup())
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerTls } from './common.js';

export interface TestPki {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA the servers do not trust, and a client certificate it signed. */
  otherCaFile: string;
  otherClientCertFile: string;
  otherClientKeyFile: string;
  /** Server options for the fake receivers; mutual TLS trusts `caFile` for clients. */
  serverTls(o?: { requireClientCert?: boolean }): ServerTls;
  cleanup(): void;
}

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=auditshipper test ${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function makeLeaf(dir: string, ca: string, name: string, cn: string, ext: string): void {
  openssl(dir, [
    'req',
    '-new',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  ]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-sha256',
    '-extfile',
    `${name}.ext`,
  ]);
}

export function generateTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'auditshipper-pki-'));
  try {
    makeCa(dir, 'ca');
    makeCa(dir, 'other-ca');
    makeLeaf(
      dir,
      'ca',
      'server',
      'localhost',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
    );
    const clientExt = 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n';
    makeLeaf(dir, 'ca', 'client', 'auditshipper-client', clientExt);
    makeLeaf(dir, 'other-ca', 'other-client', 'intruder', clientExt);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const f = (n: string): string => join(dir, n);
  return {
    dir,
    caFile: f('ca.crt'),
    serverCertFile: f('server.crt'),
    serverKeyFile: f('server.key'),
    clientCertFile: f('client.crt'),
    clientKeyFile: f('client.key'),
    otherCaFile: f('other-ca.crt'),
    otherClientCertFile: f('other-client.crt'),
    otherClientKeyFile: f('other-client.key'),
    serverTls(o = {}) {
      return {
        key: readFileSync(f('server.key')),
        cert: readFileSync(f('server.crt')),
        ca: readFileSync(f('ca.crt')),
        requireClientCert: o.requireClientCert === true,
      };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
