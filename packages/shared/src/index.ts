export * from './constants.js';
export * from './access.js';
export * from './agents.js';
export * from './auth.js';
export * from './pagination.js';
export * from './tasks.js';
export * from './users.js';
