import test from 'ava';
import { formatByteSize, formatDecimalSize, parseByteSize } from './byte-size.js';

test('sizes read decimal K/M/G and binary Ki/Mi/Gi, with or without B, in any case', (t) => {
  t.is(parseByteSize('1m'), 1_000_000);
  t.is(parseByteSize('1MiB'), 1_048_576);
  t.is(parseByteSize('1.5Gi'), 1.5 * 1024 ** 3);
  t.is(parseByteSize(512), 512);
  t.is(parseByteSize('12 parsecs'), undefined);
});

test('sizes written for people: binary for resources, decimal as docker images writes image sizes', (t) => {
  t.is(formatByteSize(4 * 1024 ** 3), '4Gi');
  t.is(formatByteSize(100), '100');
  t.is(formatDecimalSize(999), '999B');
  t.is(formatDecimalSize(1000), '1kB');
  t.is(formatDecimalSize(512_000), '512kB');
  t.is(formatDecimalSize(1_240_000), '1.24MB');
  t.is(formatDecimalSize(77_800_000, ' '), '77.8 MB');
});
