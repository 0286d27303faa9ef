import http from 'node:http';
import https from 'node:https';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { API_PREFIX } from '@trainyard/shared/client';

/** What the master answered an upload: its status and JSON body, when it answered before the connection went. */
export interface UploadAnswer {
  status: number;
  body: unknown;
}

/**
 * Streams `body` to a `PUT` endpoint of the master (`images.loadData`), as it is read, with the
 * bearer token: never held in memory whole. `onSent` hears the bytes sent so far. The master may
 * answer before the body is all sent (a refusal while streaming): that answer wins, and sending
 * stops. Rejects when the connection failed without an answer.
 */
export function upload(options: {
  master: string;
  path: string;
  token: string;
  body: Readable;
  size?: number;
  contentType: string;
  userAgent: string;
  onSent: (bytes: number) => void;
}): Promise<UploadAnswer> {
  const url = new URL(`${API_PREFIX}${options.path}`, options.master);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = client.request(url, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${options.token}`,
        'content-type': options.contentType,
        accept: 'application/json',
        'user-agent': options.userAgent,
        ...(options.size === undefined ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(options.size) }),
      },
    });
    request.on('response', (response) => {
      answered = true;
      // The answer is what matters from here on: stop sending what the master no longer reads.
      if (!options.body.readableEnded) options.body.destroy();
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ status: response.statusCode ?? 0, body });
      });
      response.on('error', (error) => reject(error));
    });
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    let sent = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sent += chunk.length;
        options.onSent(sent);
        done(null, chunk);
      },
    });
    // A refused upload ends the request early; its answer (above) says why.
    pipeline(options.body, counter, request).catch((error: unknown) => {
      if (!answered) request.destroy(error as Error);
    });
  });
}
