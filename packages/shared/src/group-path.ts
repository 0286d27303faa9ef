import { z } from 'zod';
import { GROUP_SEGMENT_PATTERN, MAX_GROUP_DEPTH, MAX_GROUP_PATH_LENGTH } from './constants.js';

/**
 * A group path: `research`, `research/vision`. Each segment is checked on its own so that the
 * message says which one is wrong and why (`..`, an empty segment, a capital, a space...).
 */
export const groupPathSchema = z
  .string({ error: 'group path must be a string' })
  .trim()
  .toLowerCase()
  .superRefine((path, ctx) => {
    const problem = groupPathProblem(path);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

function groupPathProblem(path: string): string | undefined {
  if (path === '') return 'group path cannot be empty';
  if (path.length > MAX_GROUP_PATH_LENGTH) return `group path is longer than ${MAX_GROUP_PATH_LENGTH} characters`;
  const segments = path.split('/');
  if (segments.length > MAX_GROUP_DEPTH) return `group path is deeper than ${MAX_GROUP_DEPTH} levels`;
  for (const segment of segments) {
    if (segment === '') return `group path '${path}' has an empty segment (a leading, trailing or doubled "/")`;
    if (segment === '.' || segment === '..') return `group path '${path}' contains "${segment}": segments are names, not directions`;
    if (!GROUP_SEGMENT_PATTERN.test(segment)) {
      return (
        `group path segment '${segment}' must be 1-64 characters of a-z, 0-9, ".", "_" or "-", ` +
        'starting with a letter or digit'
      );
    }
  }
  return undefined;
}

