import tar from 'tar-stream';
import { IMAGE_REFERENCE_PATTERN } from './images.js';
import { normalizeImage } from './run-spec.js';

/** The files of a `docker save` tarball that name its images; everything else passes unread. */
const NAMING_FILES = new Set(['manifest.json', 'repositories', 'index.json']);
/** None of them is anywhere near this in a real tarball. */
const MAX_NAMING_FILE = 4 * 1024 * 1024;

export type TarballVerdict = { names: string[] } | { problem: string };

/**
 * Reads, as a tarball streams past, the names `docker load` would give its images: `manifest.json`
 * (`RepoTags`), the legacy `repositories` (`{repo: {tag: id}}`), and an OCI layout's `index.json`
 * (`io.containerd.image.name`). Docker writes them after the layers, so the names are known only at
 * the end; nothing is loaded before then. Names come back normalised (`busybox` -> `busybox:latest`).
 */
export class TarballNames {
  private readonly extract = tar.extract();
  private readonly files = new Map<string, Buffer>();
  private failure: string | undefined;
  /** The archive's end (two zero blocks) was read: what follows is padding, or data `docker load` ignores too. */
  private ended = false;
  private readonly finished: Promise<void>;

  constructor() {
    this.extract.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^(\.\/)+/, '');
      if (!NAMING_FILES.has(name) || header.type !== 'file') {
        stream.on('end', () => next());
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (data: unknown) => {
        const chunk = data as Buffer;
        size += chunk.length;
        if (size <= MAX_NAMING_FILE) chunks.push(chunk);
        else this.failure ??= `its ${name} is larger than ${MAX_NAMING_FILE} bytes`;
      });
      stream.on('end', () => {
        if (size <= MAX_NAMING_FILE) this.files.set(name, Buffer.concat(chunks));
        next();
      });
    });
    this.finished = new Promise<void>((resolve) => {
      this.extract.on('finish', () => {
        this.ended = true;
        resolve();
      });
      this.extract.on('error', (error: Error) => {
        this.failure ??= `it is not a tar archive (${error.message})`;
        resolve();
      });
    });
  }

  /** The next bytes of the (decompressed) tarball; resolves when the reader can take more (or will take nothing more). */
  async write(chunk: Buffer): Promise<void> {
    if (this.failure || this.ended || this.extract.destroyed) return;
    if (this.extract.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.extract.off('drain', done);
        this.extract.off('error', done);
        this.extract.off('close', done);
        resolve();
      };
      this.extract.on('drain', done);
      this.extract.on('error', done);
      this.extract.on('close', done);
    });
  }

  /** Why what came so far cannot be a tarball `docker load` takes (not a tar at all): known before its end. */
  get problem(): string | undefined {
    return this.failure;
  }

  /** The tarball ended: its names, or why it is not a tarball `docker load` takes. */
  async end(): Promise<TarballVerdict> {
    if (!this.ended && !this.extract.destroyed) (this.extract as unknown as { end(): void }).end();
    await this.finished;
    if (this.failure) return { problem: this.failure };
    if (!this.files.has('manifest.json') && !this.files.has('repositories') && !this.files.has('index.json')) {
      return { problem: 'it has no manifest.json or repositories: it is not a `docker save` tarball' };
    }
    const names = new Set<string>();
    try {
      for (const name of namesOf(this.files)) names.add(name);
    } catch (error) {
      return { problem: (error as Error).message };
    }
    for (const name of names) {
      if (!IMAGE_REFERENCE_PATTERN.test(name)) return { problem: `it names an image '${name}', which is not an image reference` };
    }
    if (names.size === 0) return { problem: 'it names no image (one saved by its id has no name to load it under): docker save NAME:TAG' };
    return { names: [...names].sort() };
  }
}

function namesOf(files: Map<string, Buffer>): string[] {
  const names: string[] = [];
  const parse = (name: string): unknown => {
    try {
      return JSON.parse(files.get(name)!.toString('utf8'));
    } catch {
      throw new Error(`its ${name} is not JSON`);
    }
  };
  if (files.has('manifest.json')) {
    const manifest = parse('manifest.json');
    if (!Array.isArray(manifest)) throw new Error('its manifest.json is not a list of images');
    for (const entry of manifest) {
      const tags = (entry as { RepoTags?: unknown } | null)?.RepoTags;
      if (Array.isArray(tags)) names.push(...tags.filter((t): t is string => typeof t === 'string').map(normalizeImage));
    }
  }
  if (files.has('repositories')) {
    const repositories = parse('repositories');
    if (typeof repositories !== 'object' || repositories === null || Array.isArray(repositories)) throw new Error('its repositories is not a map of names');
    for (const [repository, tags] of Object.entries(repositories)) {
      if (typeof tags !== 'object' || tags === null) continue;
      for (const tag of Object.keys(tags)) names.push(normalizeImage(`${repository}:${tag}`));
    }
  }
  if (files.has('index.json')) {
    const index = parse('index.json') as { manifests?: Array<{ annotations?: Record<string, unknown> }> };
    for (const manifest of Array.isArray(index?.manifests) ? index.manifests : []) {
      const name = manifest?.annotations?.['io.containerd.image.name'];
      if (typeof name === 'string') names.push(normalizeImage(name));
    }
  }
  return names;
}
