import test from 'ava';
import { checkHtpasswdHash, parsePasswordFile } from './file-backend.js';

// Written by Apache's htpasswd (apache2-utils) for the password "pw" (-B, -m, -s, -d, -p).
const BCRYPT = '$2y$05$QR3vQYTANr2Jll6zZHQTuu3jY0ONkKIeLjVD2dZWB7yEUx1Rq.ww2';
const APR1 = '$apr1$EPrxuIMX$XEm0YbxqabsQqiMQI785J1';
const SHA = '{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=';
const CRYPT = 'cUkyOb.B1JxLI';

test('bcrypt under each of its prefixes, apr1 and {SHA} match their password only', async (t) => {
  // $2a$, $2b$ and $2y$ differ only in how old implementations treated 8-bit bytes: for ASCII the hash is the same.
  for (const hash of [BCRYPT, BCRYPT.replace('$2y$', '$2a$'), BCRYPT.replace('$2y$', '$2b$'), APR1, SHA]) {
    t.true(await checkHtpasswdHash(hash, 'pw'), hash);
    t.false(await checkHtpasswdHash(hash, 'pw2'), hash);
    t.false(await checkHtpasswdHash(hash, ''), hash);
  }
});

test('plain text, crypt(3) and anything else never match, not even the right password', async (t) => {
  for (const hash of ['pw', CRYPT, '', '$1$abc$def', '$2x$05$QR3vQYTANr2Jll6zZHQTuu3jY0ONkKIeLjVD2dZWB7yEUx1Rq.ww2', '{SHA}', '{SSHA}GpHWL3ymc5liWkNopqtdSjuqYHM=']) {
    t.false(await checkHtpasswdHash(hash, 'pw'), hash);
    t.false(await checkHtpasswdHash(hash, hash), `${hash} as its own password`);
  }
});

test('the file: comments and blank lines skipped, the first line for a name wins, names without regard to case', (t) => {
  const { entries, ignored } = parsePasswordFile(
    ['# students', '', `Alice:${BCRYPT}`, `alice:${SHA}`, `bob:pw`, 'no colon here', `carol:${APR1}`, '  '].join('\n'),
  );
  t.deepEqual([...entries], [
    ['alice', BCRYPT],
    ['bob', 'pw'],
    ['carol', APR1],
  ]);
  t.deepEqual(ignored, [5, 6], 'the plain-text line and the line without a name');
});
