import test from 'ava';
import { Backoff } from './backoff.js';

test('backoff: full jitter under a ceiling that doubles from 1 s to the 30 s cap; a success starts it over', (t) => {
  const highest = new Backoff(undefined, () => 0.999_999);
  const ceilings = Array.from({ length: 8 }, () => Math.round(highest.next().delayMs / 1000));
  t.deepEqual(ceilings, [1, 2, 4, 8, 16, 30, 30, 30]);
  t.is(highest.attempts, 8);
  highest.reset();
  t.is(highest.attempts, 0);
  t.deepEqual(highest.next(), { delayMs: 999.999, attempt: 1 });

  // Full jitter: anywhere from 0 up to the ceiling.
  const lowest = new Backoff(undefined, () => 0);
  t.is(lowest.next().delayMs, 0);
  const random = new Backoff();
  for (let i = 0; i < 200; i++) {
    const { delayMs, attempt } = random.next();
    t.true(delayMs >= 0 && delayMs < Math.min(30_000, 1000 * 2 ** (attempt - 1)), `${delayMs} ms at attempt ${attempt}`);
  }
});
