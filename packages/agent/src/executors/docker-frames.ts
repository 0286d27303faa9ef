/**
 * Docker's multiplexed log stream (no TTY): 8-byte headers [stream, 0, 0, 0, size (BE u32)]
 * then the payload. Parsed here in arrival order, so stdout and stderr lines keep their order.
 */
export class DockerFrameParser {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly emit: (stream: 'stdout' | 'stderr', payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) return;
      const type = this.pending[0];
      const payload = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      this.emit(type === 2 ? 'stderr' : 'stdout', payload);
    }
  }
}
