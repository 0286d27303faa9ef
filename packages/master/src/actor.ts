import type { SessionKind } from '@trainyard/shared';

/** Who is making a request, established once by the authenticate middleware. */
export interface Actor {
  userId: number;
  username: string;
  admin: boolean;
  session: { id: number; kind: SessionKind; createdAt: number; expiresAt: number };
}
