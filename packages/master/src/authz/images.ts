import { allow, deny } from './decision.js';
import { lacks, signedIn, userPolicy } from './policy.js';

/** An image in a pool, for `yard image rm`: who loaded it there, if anyone did with `yard image load`. */
export interface ImageTarget {
  reference: string;
  pool: string;
  loadedBy: { id: number; username: string } | null;
}

/** An image operation: who asked for it. */
export interface ImageOperationTarget {
  id: string;
  requesterId: number;
  requestedBy: string;
}

/**
 * Images on the agents. Listing is open to everyone signed in (they choose images for their tasks);
 * pulling and loading are open too, and the admission policy decides (`images.user_pull`,
 * `images.allow`, `images.load.allow`, `pools.allow`: refusals are POLICY_DENIED naming the rule).
 * Removing an image is for whoever loaded it there, or change_config.
 */
export const imagePolicies = {
  list: signedIn('images.list', "any signed-in user: the agents' images, marked with whether their own policy admits each"),
  pull: signedIn('images.pull', 'any signed-in user the policy lets pull (images.user_pull, images.allow, pools.allow); change_config always may'),
  load: signedIn('images.load', "any signed-in user, for names their policy's images.load.allow admits (change_config: any name)"),
  /** The tarball of a load: only from whoever started it. */
  upload: userPolicy<ImageOperationTarget>({
    name: 'images.load_data',
    capability: null,
    rule: 'the user who started the load',
    check: (actor, operation) =>
      actor.userId === operation.requesterId ? allow : deny(`${actor.username} may not send the tarball of image load ${operation.id}: ${operation.requestedBy} started it`),
  }),
  remove: userPolicy<ImageTarget>({
    name: 'images.remove',
    capability: 'change_config',
    rule: 'whoever loaded the image into the pool (yard image load); change_config: any image no unfinished task uses',
    check: (actor, image) => {
      if (image.loadedBy?.id === actor.userId || actor.can('change_config')) return allow;
      const whose = image.loadedBy ? `${image.loadedBy.username} loaded it` : 'nobody loaded it with yard image load';
      return deny(lacks(actor, `remove image ${image.reference} from pool ${image.pool} (${whose})`, 'change_config'));
    },
  }),
  operation: userPolicy<ImageOperationTarget>({
    name: 'images.operation',
    capability: 'see_status',
    rule: 'the user who asked for it; see_status',
    check: (actor, operation) =>
      actor.userId === operation.requesterId || actor.can('see_status')
        ? allow
        : deny(lacks(actor, `follow image operation ${operation.id} (${operation.requestedBy}'s)`, 'see_status')),
  }),
};
