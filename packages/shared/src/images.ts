/**
 * Images on the agents (issue 27): what each agent reports of its engine's images, the list people
 * see (`yard image list`), and the operations that bring images there or take them away (`yard image
 * pull`, `load`, `rm`), which the master hands agents as actions on their long poll and follows as
 * the agents report back. See docs/architecture.md, "Images".
 */
import { z } from 'zod';
import { normalizeImage } from './run-spec.js';
import { poolNameSchema } from './tasks.js';

/**
 * One image of an agent's engine, as the agent reports it at registration and when its images
 * change: the engine's id, its tags and digests (as the engine names them), size and creation time.
 */
export const agentImageSchema = z.strictObject({
  id: z.string().min(1).max(200),
  tags: z.array(z.string().min(1).max(512)).max(200).default([]),
  digests: z.array(z.string().min(1).max(512)).max(200).default([]),
  /** Bytes. */
  size: z.number().int().min(0),
  /** Epoch milliseconds (the engine's `Created`). */
  created: z.number().int().min(0),
});
export type AgentImage = z.output<typeof agentImageSchema>;

/** An agent's images; null: it has none to speak of (the process executor runs no images). */
export const agentImageListSchema = z.array(agentImageSchema).max(5000).nullable();
export type AgentImageList = z.output<typeof agentImageListSchema>;

/**
 * An image reference as Docker takes it: `[registry[:port]/]name[/name...][:tag][@digest]`, the
 * names lower case. Refused before anything reaches an agent's engine.
 */
export const IMAGE_REFERENCE_PATTERN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$/;

export const imageReferenceSchema = z
  .string({ error: 'the image must be a string' })
  .trim()
  .min(1, 'name an image, such as busybox:latest or registry.example.com/team/tool:1')
  .max(512)
  .regex(IMAGE_REFERENCE_PATTERN, 'is not an image reference such as busybox:latest or registry.example.com:5000/team/tool:1 (names are lower case)')
  .transform(normalizeImage);

/** `yard image pull|load|rm` go to one pool's agents, or to one agent. */
const targetSchema = {
  pool: poolNameSchema.optional(),
  agent: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'agent ids are 1-64 letters, digits, ".", "_" or "-"').optional(),
};
const oneTarget = (q: { pool?: string | undefined; agent?: string | undefined }) => q.pool === undefined || q.agent === undefined;
const ONE_TARGET = 'give --pool or --agent, not both';

export const imageListQuerySchema = z.strictObject({
  ...targetSchema,
  /** A glob over `repository:tag` (`team/*`, `*:1`); `*` matches any run of characters, `/` included. */
  name: z.string().min(1).max(512).optional(),
});
export type ImageListQuery = z.input<typeof imageListQuerySchema>;

export const imagePullSchema = z.strictObject({ image: imageReferenceSchema, ...targetSchema }).refine(oneTarget, ONE_TARGET);
export type ImagePullRequest = z.input<typeof imagePullSchema>;

export const imageRemoveQuerySchema = z.strictObject({ image: imageReferenceSchema, ...targetSchema }).refine(oneTarget, ONE_TARGET);
export type ImageRemoveQuery = z.input<typeof imageRemoveQuerySchema>;

/** `POST /images/loads`: where a tarball goes, and its size when the client knows it (refused at once when over the limit). */
export const imageLoadStartSchema = z
  .strictObject({ ...targetSchema, size: z.number().int().min(0).optional() })
  .refine(oneTarget, ONE_TARGET);
export type ImageLoadStartRequest = z.input<typeof imageLoadStartSchema>;

/** Whether ordinary users may ask the agents to pull (`images.user_pull`, a policy rule like any other). */
export const USER_PULL_VALUES = ['allow', 'deny'] as const;
export type UserPull = (typeof USER_PULL_VALUES)[number];

/** One image as people see it: one row per tag (untagged images: one row, tag null), with where it is. */
export interface ImageView {
  /** `team/tool`, `127.0.0.1:5000/team/tool`; `<none>` for an untagged image. */
  repository: string;
  tag: string | null;
  /** The normalised reference (`busybox:latest`) tasks name it by; null for an untagged image. */
  reference: string | null;
  id: string;
  digests: string[];
  /** Bytes. */
  size: number;
  created: string;
  /** The agents that have it, with their pools. */
  agents: Array<{ agent: string; pool: string }>;
  pools: string[];
  /** Whether the caller's effective policy would admit a task naming it (`images.allow`, or use_any_image). */
  allowed: boolean;
  /** Who loaded it with `yard image load`, when someone did (in one of its pools). */
  loadedBy: string | null;
}

/** An agent the list shows no images of, and why (it runs the process executor; it never said). */
export interface ImagelessAgent {
  agent: string;
  pool: string;
  reason: string;
}

/** `GET /images`. */
export interface ImageList {
  items: ImageView[];
  agentsWithoutImages: ImagelessAgent[];
  /** What the caller may do, and the rule that says so. */
  caller: {
    /** Whether `yard image pull` is open to them (`images.user_pull`, or change_config), and why not. */
    pull: { allowed: boolean; reason: string | null };
    /** The names `yard image load` accepts from them (`images.load.allow`, placeholders filled); ['.*'] with change_config. */
    load: string[];
  };
}

export const IMAGE_OPERATION_KINDS = ['pull', 'load', 'remove'] as const;
export type ImageOperationKind = (typeof IMAGE_OPERATION_KINDS)[number];

/**
 * One agent's part of an operation: `waiting` (not picked up yet), `running`, then `done` or
 * `failed` (with the engine's or the agent's reason), or `skipped` (it cannot hold images).
 */
export type ImageOperationState = 'waiting' | 'running' | 'done' | 'failed' | 'skipped';

/** One layer as Docker reports its pull: `Downloading`, `Extracting`, `Pull complete`, `Already exists`. */
export interface ImageLayerProgress {
  id: string;
  status: string;
  /** Bytes, when Docker says. */
  current: number | null;
  total: number | null;
}

export interface ImageOperationAgent {
  agent: string;
  state: ImageOperationState;
  message: string | null;
  /** The engine's last overall status line (`Digest: sha256:...`, `Loaded image: ...`). */
  status: string | null;
  layers: ImageLayerProgress[];
  /** A load: the bytes of the tarball this agent has taken so far. */
  bytes: number | null;
  /** What it holds now: the image's id, once done. */
  imageId: string | null;
}

/** `yard image pull|load|rm`: what was asked of which agents, and how far each got. Kept in the master's memory. */
export interface ImageOperation {
  id: string;
  kind: ImageOperationKind;
  /** The image pulled or removed; for a load, the names its tarball holds (once read). */
  images: string[];
  pool: string;
  requestedBy: string;
  createdAt: string;
  /** Every agent's part has ended (or the operation was refused as a whole: `message`). */
  done: boolean;
  /** Why the operation as a whole ended early (a load's tarball over the limit, names the policy refused). */
  message: string | null;
  /** A load: bytes the master has received of the tarball (after decompressing it). */
  bytes: number | null;
  /** Changes whenever anything in it does: the `seen` of a long poll. */
  version: number;
  agents: ImageOperationAgent[];
}

/** The agent's report on an operation it was handed (`POST /agents/:id/image-operations/:operationId`). */
export const imageReportSchema = z.strictObject({
  state: z.enum(['running', 'done', 'failed']),
  message: z.string().max(4096).nullable().optional(),
  status: z.string().max(1024).nullable().optional(),
  layers: z
    .array(
      z.strictObject({
        id: z.string().max(200),
        status: z.string().max(200),
        current: z.number().min(0).nullable(),
        total: z.number().min(0).nullable(),
      }),
    )
    .max(500)
    .optional(),
  bytes: z.number().int().min(0).nullable().optional(),
  imageId: z.string().max(200).nullable().optional(),
});
export type ImageReport = z.input<typeof imageReportSchema>;

/**
 * The load stream (a WebSocket the agent dials back): the master sends the tarball (decompressed)
 * as binary messages, then one text message, `end` (the names it read from the tarball, which the
 * policy admitted: load them) or `abort` (drop what was received). The agent answers `result` at any
 * time (an early one refuses the rest: over the size limit, a full disk) and closes.
 */
export type LoadStreamControl = { type: 'end'; names: string[]; bytes: number } | { type: 'abort'; reason: string };
export type LoadStreamResult = { type: 'result'; ok: boolean; message: string | null; imageIds: string[]; names: string[] };

/** `repository:tag` of a normalised reference: the repository, and the tag (null for a digest). */
export function splitReference(reference: string): { repository: string; tag: string | null } {
  const at = reference.indexOf('@');
  if (at >= 0) return { repository: reference.slice(0, at), tag: null };
  const colon = reference.lastIndexOf(':');
  const slash = reference.lastIndexOf('/');
  return colon > slash ? { repository: reference.slice(0, colon), tag: reference.slice(colon + 1) } : { repository: reference, tag: null };
}

/** A glob of `*` and `?` over a whole name (`team/*`, `*:1`). */
export function imageGlob(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}
