import test from 'ava';
import { sameOriginPath } from './same-origin-path.js';

const origin = 'http://127.0.0.1:8080';

test('paths of this site are kept, resolved as the browser would', (t) => {
  t.is(sameOriginPath('/experiments/12', origin), '/experiments/12');
  t.is(sameOriginPath('/proxy/3/tree?x=1#top', origin), '/proxy/3/tree?x=1#top');
  t.is(sameOriginPath('/a/../experiments', origin), '/experiments');
  t.is(sameOriginPath('/proxy/3/%2F%2Fnot-a-host', origin), '/proxy/3/%2F%2Fnot-a-host', 'an encoded slash is a character of the path');
});

test('nothing that a browser reads as another host, or that is not a path', (t) => {
  for (const target of [
    null,
    undefined,
    '',
    'experiments',
    'https://evil.example/x',
    'javascript:alert(1)',
    '//evil.example/x',
    '/\\evil.example',
    '/.//evil.example',
    '/..//evil.example/x',
    '/./\\evil.example',
    '/.\\/evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    '/%2e//evil.example',
    '/%2e%2e//evil.example',
    '/proxy/1/../..//evil.example',
    '/proxy/1/..\\..\\/evil.example',
  ]) {
    t.is(sameOriginPath(target, origin), undefined, JSON.stringify(target));
  }
});
