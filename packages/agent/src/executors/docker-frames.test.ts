import test from 'ava';
import { DockerFrameParser } from './docker-frames.js';

const frame = (type: number, text: string) => {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

test('frames come out in order, split anywhere', (t) => {
  const seen: string[] = [];
  const parser = new DockerFrameParser((stream, payload) => seen.push(`${stream}:${payload.toString()}`));
  const bytes = Buffer.concat([frame(1, 'a\n'), frame(2, 'err\n'), frame(1, 'b\n')]);
  for (let i = 0; i < bytes.length; i += 3) parser.push(bytes.subarray(i, i + 3));
  t.deepEqual(seen, ['stdout:a\n', 'stderr:err\n', 'stdout:b\n']);
});
