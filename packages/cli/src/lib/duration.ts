/** `500ms`, `90s`, `10m`, `2h`, `1d`, or seconds as a plain number (one parser for the CLI and the agent). */
export { parseDurationMs } from '@trainyard/shared/constants';
