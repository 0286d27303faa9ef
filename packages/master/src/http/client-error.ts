import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '@trainyard/shared';

/**
 * Node's answer to requests it cannot parse (headers over `http.maxHeaderSize`, a malformed
 * request line, a client too slow to send its headers) is a bare status line. This gives them
 * the documented `{"error": {...}}` body instead, and closes the connection as Node would.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, logger: Logger): void {
  const pending = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
    socket.destroy();
    return;
  }
  const [code, message] = describe(error);
  logger.debug({ err: error, code }, 'refused a request Node could not parse');
  const status = ERROR_STATUS[code];
  const body = JSON.stringify({ error: { code, message } } satisfies ErrorBody);
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

function describe(error: NodeJS.ErrnoException): [ErrorCode, string] {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return ['HEADER_TOO_LARGE', `the request's headers are larger than the limit of ${http.maxHeaderSize} bytes`];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return ['REQUEST_TIMEOUT', 'the request was not received in time'];
    default:
      return ['INVALID_INPUT', `the request is not valid HTTP/1.1 (${error.code ?? error.message})`];
  }
}
