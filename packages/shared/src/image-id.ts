/** `sha256:0123456789ab...` as docker shows it: the first 12 hex digits. */
export const shortImageId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);
